COPY dedup_person_keys (person_id, subkey, component_id, digest, buckets)
FROM STDIN (FORMAT binary)
