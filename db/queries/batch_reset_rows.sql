-- Start re-processing some rows of a batch (errors-only replay): only their
-- staged rows and findings are replaced.
WITH mortgage AS (DELETE FROM stg_mortgage
                  WHERE batch_id = %(batch_id)s AND row_number = ANY(%(rows)s)),
     delivery AS (DELETE FROM stg_delivery
                  WHERE batch_id = %(batch_id)s AND row_number = ANY(%(rows)s)),
     findings AS (DELETE FROM import_errors
                  WHERE batch_id = %(batch_id)s AND row_number = ANY(%(rows)s))
UPDATE import_batches
SET status = 'RUNNING', started_at = now(), finished_at = NULL, error_message = NULL
WHERE id = %(batch_id)s
