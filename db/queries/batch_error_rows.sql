SELECT DISTINCT row_number FROM import_errors
WHERE batch_id = %(batch_id)s AND severity = 'ERROR'
ORDER BY row_number
