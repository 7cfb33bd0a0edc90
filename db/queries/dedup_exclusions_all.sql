SELECT person_id, other_id FROM dedup_exclusions
