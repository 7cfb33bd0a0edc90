-- Replay: the staged rows of a chunk's rows (those in replay_stg or replay_errors) that
-- differ from their re-checked version, or that are rejected now, leave stg_person.
-- A row equal to its re-checked version stays: it is not upserted again. (Rows compare as
-- jsonb: json, the raw row's type, has no equality.)
DELETE FROM stg_person s
WHERE s.batch_id = %(batch_id)s
  AND s.row_number IN (SELECT row_number FROM replay_stg
                       UNION
                       SELECT row_number FROM replay_errors)
  AND NOT EXISTS (SELECT 1 FROM replay_stg n
                  WHERE n.row_number = s.row_number
                    AND to_jsonb(n) = to_jsonb(s))
