-- Only right after dedup_person_keys_truncate in the same transaction: rows are written
-- frozen and their pages all-visible.
COPY dedup_person_keys (person_id, subkey, component_id, digest, buckets)
FROM STDIN (FORMAT binary, FREEZE)
