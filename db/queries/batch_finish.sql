-- Close a processed batch with its counts and checklist, and audit what it did.
WITH closed AS (
    UPDATE import_batches
    SET status = %(status)s,
        row_count = %(rows_read)s,
        success_count = %(rows_loaded)s,
        error_count = %(rows_rejected)s,
        warning_count = %(warnings)s,
        checklist = %(checklist)s::jsonb,
        finished_at = clock_timestamp()
    WHERE id = %(batch_id)s
)
INSERT INTO import_audit_log (batch_id, operation, record_count, details)
VALUES (%(batch_id)s, 'STAGE', %(rows_loaded)s,
        jsonb_build_object('read', %(rows_read)s, 'rejected', %(rows_rejected)s,
                           'warnings', %(warnings)s)),
       (%(batch_id)s, 'INSERT', %(pieces_new)s, jsonb_build_object('what', 'mail_pieces')),
       (%(batch_id)s, 'DELIVER', %(deliveries_applied)s,
        jsonb_build_object('ignored', %(confirmations_ignored)s,
                           'unmatched', %(confirmations_unmatched)s))
