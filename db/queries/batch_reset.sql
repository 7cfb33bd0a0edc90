-- Start (or restart) processing a batch: its staged rows and findings are
-- replaced, never added to, so a batch processed twice is counted once.
WITH mortgage AS (DELETE FROM stg_mortgage WHERE batch_id = %(batch_id)s),
     delivery AS (DELETE FROM stg_delivery WHERE batch_id = %(batch_id)s),
     findings AS (DELETE FROM import_errors WHERE batch_id = %(batch_id)s)
UPDATE import_batches
SET status = 'RUNNING', started_at = now(), finished_at = NULL, error_message = NULL
WHERE id = %(batch_id)s
