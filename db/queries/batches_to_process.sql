-- Partner batches waiting to be processed (new, or interrupted mid-file), in
-- landing order, with what the scheduler needs: partner, kind and size.
SELECT id, partner, split_part(source_type, '_', 1) AS kind, file_size
FROM import_batches
WHERE status IN ('PENDING', 'RUNNING')
  AND source_type LIKE ANY (ARRAY['mortgage_%%', 'delivery_%%'])
ORDER BY id
