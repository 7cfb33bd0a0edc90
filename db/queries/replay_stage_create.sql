-- Replay: where a chunk's re-checked rows wait, shaped like stg_person, until they are
-- merged into it (replay_rows_merge). Emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS replay_stg ON COMMIT DELETE ROWS AS
SELECT * FROM stg_person WITH NO DATA
