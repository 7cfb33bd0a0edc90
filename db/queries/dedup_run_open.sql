-- A dedup run starts RUNNING (committed on its own, so operators see it while it works).
INSERT INTO dedup_runs (mode, parameters, actor)
VALUES (%(mode)s, %(parameters)s, %(actor)s)
RETURNING id, job_id
