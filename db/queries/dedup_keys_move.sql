UPDATE dedup_person_keys k
SET subkey = c.subkey, component_id = c.component_id
FROM dedup_key_change c
WHERE k.person_id = c.person_id AND NOT c.rekey
