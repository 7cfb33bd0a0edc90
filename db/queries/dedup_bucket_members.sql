-- Stored people in any looked-up bucket (only its sub-key's members where subkey <> 0),
-- packed (person_id int8 per row, big-endian). OFFSET 0 keeps the lateral subquery a
-- per-bucket index range scan.
SELECT string_agg(int8send(person_id), ''::bytea)
FROM (
    SELECT DISTINCT k.person_id
    FROM dedup_lookup l
    CROSS JOIN LATERAL (
        SELECT b.person_id
        FROM dedup_band_keys b
        WHERE b.bucket_hash = l.bucket_hash
        OFFSET 0
    ) k
    WHERE l.subkey = 0
       OR EXISTS (SELECT 1 FROM dedup_person_keys pk
                  WHERE pk.person_id = k.person_id AND pk.subkey = l.subkey)
) found
