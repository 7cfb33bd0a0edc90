-- Stored members of each looked-up bucket: one index-only range count per bucket, packed
-- (i int4, size int8 per row, big-endian).
SELECT string_agg(
           int4send(l.i)
           || int8send((SELECT count(*) FROM dedup_band_keys k
                        WHERE k.bucket_hash = l.bucket_hash)),
           ''::bytea)
FROM dedup_lookup l
