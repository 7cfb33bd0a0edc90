-- A replay of a migrated batch ends: its report's duration counts from when it started
-- (set with the final counts, so that a replay that fails leaves the batch as it was).
UPDATE import_batches SET started_at = %(started_at)s WHERE id = %(batch_id)s
