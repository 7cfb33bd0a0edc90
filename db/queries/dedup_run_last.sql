-- The settings the stored band keys were built with: those of the last completed run.
SELECT id, parameters
FROM dedup_runs
WHERE status = 'COMPLETE'
ORDER BY finished_at DESC
LIMIT 1
