-- The run's results are written: COMPLETE with its counts and per-stage seconds.
UPDATE dedup_runs
SET status = 'COMPLETE', counts = %(counts)s, timings = %(timings)s,
    finished_at = clock_timestamp()
WHERE id = %(run_id)s
