UPDATE import_batches
SET status = 'FAILED', error_message = %(message)s, finished_at = now()
WHERE id = %(batch_id)s
