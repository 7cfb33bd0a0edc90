-- A migrated source's reconciliation and effects, as they stand in the database.
SELECT coalesce((SELECT rows_read FROM import_checkpoints WHERE batch_id = %(batch_id)s), 0)
         AS rows_read,
       (SELECT count(*) FROM stg_person WHERE batch_id = %(batch_id)s) AS rows_loaded,
       (SELECT count(DISTINCT row_number) FROM import_errors
        WHERE batch_id = %(batch_id)s AND severity = 'ERROR') AS rows_rejected,
       (SELECT count(*) FROM import_errors
        WHERE batch_id = %(batch_id)s AND severity = 'WARN') AS warnings,
       coalesce((SELECT sum(record_count) FROM import_audit_log
                 WHERE batch_id = %(batch_id)s AND operation = 'INSERT'), 0)::bigint AS inserted,
       coalesce((SELECT sum(record_count) FROM import_audit_log
                 WHERE batch_id = %(batch_id)s AND operation = 'UPDATE'), 0)::bigint AS updated
