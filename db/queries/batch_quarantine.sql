-- Record a file that cannot be processed as it stands (unknown name, unreadable).
INSERT INTO import_batches (filename, source_type, partner, channel, landing_uri, sha256,
                            file_size, status, error_message, finished_at)
VALUES (%(filename)s, %(source_type)s, %(partner)s, %(channel)s, %(landing_uri)s, %(sha256)s,
        %(file_size)s, 'QUARANTINED', %(error_message)s, now())
RETURNING id
