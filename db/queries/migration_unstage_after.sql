-- Staging runs ahead of the upsert on its own connection and commits there, so a run killed
-- between the two leaves staged rows and findings past its last committed chunk. They are
-- removed before the run goes on (after = its checkpoint; NULL: none committed yet), and
-- staged again from the source. Findings without a row (about the whole file) stay.
WITH findings AS (
    DELETE FROM import_errors
    WHERE batch_id = %(batch_id)s
      AND row_number > coalesce(%(after)s::bigint, -1)
)
DELETE FROM stg_person
WHERE batch_id = %(batch_id)s
  AND row_number > coalesce(%(after)s::bigint, -1)
