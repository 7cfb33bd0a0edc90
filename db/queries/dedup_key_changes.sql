-- People whose stored keys differ from the run's: `rekey` when the band keys themselves
-- changed (or were never stored), else only the sub-key or component moved.
CREATE TEMP TABLE dedup_key_change ON COMMIT DROP AS
SELECT n.person_id, n.subkey, n.component_id,
       k.person_id IS NULL OR k.digest <> n.digest AS rekey
FROM dedup_key_state n
-- An index lookup per resolved person (OFFSET 0 keeps it so), not a scan of every key.
LEFT JOIN LATERAL (
    SELECT k.person_id, k.digest, k.subkey, k.component_id
    FROM dedup_person_keys k
    WHERE k.person_id = n.person_id
    OFFSET 0
) k ON true
WHERE k.person_id IS NULL
   OR k.digest <> n.digest
   OR k.subkey <> n.subkey
   OR k.component_id <> n.component_id
