-- A batch's row counts as they stand in the database after processing.
SELECT (SELECT count(*) FROM stg_mortgage WHERE batch_id = %(batch_id)s)
         + (SELECT count(*) FROM stg_delivery WHERE batch_id = %(batch_id)s) AS rows_loaded,
       (SELECT count(DISTINCT row_number) FROM import_errors
        WHERE batch_id = %(batch_id)s AND severity = 'ERROR') AS rows_rejected,
       (SELECT count(*) FROM import_errors
        WHERE batch_id = %(batch_id)s AND severity = 'WARN') AS warnings
