-- Replay: where a chunk's new findings wait, shaped like import_errors without its id and
-- timestamp, until they are merged into it (replay_errors_merge). Emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS replay_errors ON COMMIT DELETE ROWS AS
SELECT batch_id, row_number, severity, error_type, field_name, field_value, error_message,
       raw_row
FROM import_errors WITH NO DATA
