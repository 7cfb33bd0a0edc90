-- Replay: the findings of a chunk's rows (those in replay_stg or replay_errors) become the
-- new ones. A finding equal to a new one stays as it is (same id and time), the others go,
-- and new findings not there yet are added: replaying with nothing new changes nothing.
WITH chunk AS (
    SELECT row_number FROM replay_stg
    UNION
    SELECT row_number FROM replay_errors
), gone AS (
    DELETE FROM import_errors e
    WHERE e.batch_id = %(batch_id)s
      AND e.row_number IN (SELECT row_number FROM chunk)
      AND NOT EXISTS (
          SELECT 1 FROM replay_errors n
          WHERE (n.batch_id, n.row_number, n.severity, n.error_type, n.field_name,
                 n.field_value, n.error_message, n.raw_row)
                IS NOT DISTINCT FROM
                (e.batch_id, e.row_number, e.severity, e.error_type, e.field_name,
                 e.field_value, e.error_message, e.raw_row))
)
INSERT INTO import_errors (batch_id, row_number, severity, error_type, field_name,
                           field_value, error_message, raw_row)
SELECT n.batch_id, n.row_number, n.severity, n.error_type, n.field_name, n.field_value,
       n.error_message, n.raw_row
FROM replay_errors n
WHERE NOT EXISTS (
    SELECT 1 FROM import_errors e
    WHERE e.batch_id = n.batch_id AND e.row_number = n.row_number
      AND (e.severity, e.error_type, e.field_name, e.field_value, e.error_message, e.raw_row)
          IS NOT DISTINCT FROM
          (n.severity, n.error_type, n.field_name, n.field_value, n.error_message, n.raw_row))
ORDER BY n.row_number
