-- A reload starts from an empty table (no per-row trigger deletes; the band keys are
-- replaced whole in the same transaction).
TRUNCATE dedup_person_keys
