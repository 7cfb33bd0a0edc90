SELECT id, filename, source_type, partner, channel, landing_uri, sha256, status,
       row_count, success_count, error_count, warning_count
FROM import_batches
WHERE id = %(batch_id)s
