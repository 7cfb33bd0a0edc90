-- Stored members of each looked-up bucket, at most %(limit)s of them, each with the
-- bucket's size (exact below the limit; a bucket at the limit is counted separately).
-- One packed value (i int4, person_id int8, size int8 per row, big-endian): a result of
-- hundreds of thousands of rows in one round trip instead of one per row.
SELECT string_agg(int4send(l.i) || int8send(m.person_id) || int8send(m.size), ''::bytea)
FROM dedup_lookup l
CROSS JOIN LATERAL (
    SELECT f.person_id, count(*) OVER () AS size
    FROM (
        SELECT b.person_id
        FROM dedup_band_keys b
        WHERE b.bucket_hash = l.bucket_hash
        LIMIT %(limit)s
    ) f
) m
