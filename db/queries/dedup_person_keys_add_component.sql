-- As in 0010_dedup.sql.
CREATE INDEX dedup_person_keys_component ON dedup_person_keys (component_id)
