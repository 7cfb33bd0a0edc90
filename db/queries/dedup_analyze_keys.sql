-- Fresh statistics after a reload, so key lookups plan as index scans.
ANALYZE dedup_person_keys
