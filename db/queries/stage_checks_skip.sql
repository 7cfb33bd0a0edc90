-- Staged rows and findings all name one batch, whose row this locks (FOR KEY SHARE, the
-- lock each of their per-row foreign-key checks would take; a partner batch's row is held
-- already by batch_reset), so those checks are skipped while they are copied into
-- %(tables)s, where the role may (partner_checks_skippable, 0014_partner_speed.sql).
-- A row comes back when they are; stage_checks_restore.sql turns the checks back on.
WITH batch AS (SELECT id FROM import_batches WHERE id = %(batch_id)s FOR KEY SHARE)
SELECT set_config('session_replication_role', 'replica', true) IS NOT NULL AS skipped
FROM batch
WHERE current_setting('session_replication_role') = 'origin'
  AND partner_checks_skippable(%(tables)s::regclass[])
