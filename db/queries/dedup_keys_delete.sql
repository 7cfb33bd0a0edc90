-- The trigger on dedup_person_keys removes the people's dedup_band_keys rows with them.
DELETE FROM dedup_person_keys k
USING dedup_key_change c
WHERE k.person_id = c.person_id AND c.rekey
