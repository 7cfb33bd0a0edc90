SELECT last_row_number, rows_read FROM import_checkpoints WHERE batch_id = %(batch_id)s
