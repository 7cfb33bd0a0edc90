-- The run's transaction was rolled back: nothing it computed was written.
UPDATE dedup_runs
SET status = 'FAILED', error = %(error)s, timings = %(timings)s, finished_at = clock_timestamp()
WHERE id = %(run_id)s
