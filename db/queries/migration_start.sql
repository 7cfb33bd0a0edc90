-- A migration batch starts (or resumes: its first start time stays).
UPDATE import_batches SET status = 'RUNNING', started_at = coalesce(started_at, now())
WHERE id = %(batch_id)s
