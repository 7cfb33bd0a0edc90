-- The stored key rows of the people in dedup_ids, packed (person_id, subkey, component_id
-- int8, then the packed buckets, per row, big-endian).
SELECT string_agg(
           int8send(pk.person_id) || int8send(pk.subkey) || int8send(pk.component_id)
           || pk.buckets,
           ''::bytea ORDER BY pk.person_id)
FROM (SELECT DISTINCT person_id FROM dedup_ids) i
JOIN dedup_person_keys pk ON pk.person_id = i.person_id
