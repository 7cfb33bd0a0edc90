-- Close a migrated batch with its reconciliation and checklist (the upsert audited its
-- effects per chunk).
UPDATE import_batches
SET status = %(status)s,
    row_count = %(rows_read)s,
    success_count = %(rows_loaded)s,
    error_count = %(rows_rejected)s,
    warning_count = %(warnings)s,
    checklist = %(checklist)s::jsonb,
    finished_at = clock_timestamp()
WHERE id = %(batch_id)s
