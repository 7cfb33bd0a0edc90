-- As in 0010_dedup.sql.
ALTER TABLE dedup_person_keys ADD CONSTRAINT dedup_person_keys_pkey PRIMARY KEY (person_id)
