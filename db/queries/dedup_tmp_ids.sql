-- Person ids a statement works on (COPY-filled, emptied before each use).
CREATE TEMP TABLE IF NOT EXISTS dedup_ids (person_id bigint NOT NULL) ON COMMIT DROP
