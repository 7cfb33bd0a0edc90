-- Staged rows and findings all name the batch whose row this transaction has just
-- locked (batch_reset), so their per-row foreign-key checks are skipped while they are
-- copied in, where that is allowed (partner_checks_skippable, 0014_partner_speed.sql).
-- A row comes back when they are; stage_checks_restore.sql turns the checks back on.
SELECT set_config('session_replication_role', 'replica', true) IS NOT NULL AS skipped
WHERE current_setting('session_replication_role') = 'origin'
  AND partner_checks_skippable(ARRAY['stg_mortgage', 'stg_delivery', 'import_errors']::regclass[])
