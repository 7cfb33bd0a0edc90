-- Seconds a batch took, for its success report.
SELECT extract(epoch FROM finished_at - started_at) FROM import_batches WHERE id = %(batch_id)s
