-- Stored people of the looked-up matching components (bucket_hash = component id), packed
-- (person_id int8 per row, big-endian).
SELECT string_agg(int8send(person_id), ''::bytea)
FROM (
    SELECT DISTINCT k.person_id
    FROM dedup_lookup l
    CROSS JOIN LATERAL (
        SELECT pk.person_id
        FROM dedup_person_keys pk
        WHERE pk.component_id = l.bucket_hash
        OFFSET 0
    ) k
) found
