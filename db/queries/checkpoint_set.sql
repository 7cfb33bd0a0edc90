INSERT INTO import_checkpoints (batch_id, last_row_number, rows_read)
VALUES (%(batch_id)s, %(last_row_number)s, %(rows_read)s)
ON CONFLICT (batch_id) DO UPDATE
SET last_row_number = excluded.last_row_number,
    rows_read = excluded.rows_read,
    updated_at = now()
