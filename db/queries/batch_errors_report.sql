SELECT row_number, severity, error_type, field_name, field_value, error_message, raw_row
FROM import_errors
WHERE batch_id = %(batch_id)s
ORDER BY row_number, id
