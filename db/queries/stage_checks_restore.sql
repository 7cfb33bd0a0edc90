-- Every check and trigger fires again (after stage_checks_skip.sql).
SELECT set_config('session_replication_role', 'origin', true)
