-- The unfinished batch of a source that has no file (a MySQL table): resumed, not reopened.
SELECT id FROM import_batches
WHERE filename = %(filename)s AND source_type = %(source_type)s
  AND status IN ('PENDING', 'RUNNING')
ORDER BY id DESC
LIMIT 1
