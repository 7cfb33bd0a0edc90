-- Whether the per-row foreign-key checks on `p_tables` may be skipped: the role may set
-- session_replication_role and none of the tables has a trigger of its own that replica
-- mode would silence (one enabled ALWAYS, as the dedup queue triggers are, fires in replica
-- mode too). Asked by promote_mortgage, apply_deliveries, upsert_persons and
-- db/queries/stage_checks_skip.sql before they skip those checks.
CREATE OR REPLACE FUNCTION partner_checks_skippable(p_tables regclass[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT has_parameter_privilege('session_replication_role', 'SET')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = ANY (p_tables) AND NOT tgisinternal
                         AND tgenabled <> 'A')
$$;
