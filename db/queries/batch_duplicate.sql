-- Record a file whose bytes are already a live batch, pointing at that batch.
WITH first AS (
    SELECT id, filename FROM import_batches
    WHERE sha256 = %(sha256)s
      AND status NOT IN ('REJECTED_DUPLICATE', 'QUARANTINED', 'FAILED')
)
INSERT INTO import_batches (filename, source_type, partner, channel, landing_uri, sha256,
                            file_size, status, duplicate_of, error_message, finished_at)
SELECT %(filename)s, %(source_type)s, %(partner)s, %(channel)s, %(landing_uri)s, %(sha256)s,
       %(file_size)s, 'REJECTED_DUPLICATE', first.id,
       format('same bytes as batch %%s (%%s)', first.id, first.filename), now()
FROM first
RETURNING id, duplicate_of, error_message
