SELECT EXISTS (SELECT 1 FROM dedup_person_keys)
