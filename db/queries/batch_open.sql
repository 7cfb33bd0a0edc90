-- Record a landed file as a live batch, unless its bytes were seen before
-- (the partial unique index on sha256); returns nothing for a duplicate.
INSERT INTO import_batches (filename, source_type, partner, channel, landing_uri, sha256,
                            file_size, status)
VALUES (%(filename)s, %(source_type)s, %(partner)s, %(channel)s, %(landing_uri)s, %(sha256)s,
        %(file_size)s, 'PENDING')
ON CONFLICT (sha256) WHERE status NOT IN ('REJECTED_DUPLICATE', 'QUARANTINED', 'FAILED')
DO NOTHING
RETURNING id
