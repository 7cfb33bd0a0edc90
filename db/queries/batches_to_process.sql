-- Partner batches waiting to be processed (new, or interrupted mid-file), mortgage
-- files first so that deliveries find the pieces they confirm, each in landing order.
SELECT id
FROM import_batches
WHERE status IN ('PENDING', 'RUNNING')
  AND source_type LIKE ANY (ARRAY['mortgage_%%', 'delivery_%%'])
ORDER BY source_type NOT LIKE 'mortgage_%%', id
