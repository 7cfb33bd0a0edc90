SELECT status, source_type FROM import_batches WHERE id = %(batch_id)s
