-- One stored raw row of a migrated batch, to learn its source's column names: a finding's
-- raw row keeps the source's column order (text); so does a staged row's json, but rows
-- staged before it was json were jsonb, which sorts keys.
SELECT raw
FROM ((SELECT raw_row AS raw, 0 AS preference
       FROM import_errors
       WHERE batch_id = %(batch_id)s AND raw_row IS NOT NULL
       ORDER BY row_number LIMIT 1)
      UNION ALL
      (SELECT raw::text, 1
       FROM stg_person
       WHERE batch_id = %(batch_id)s
       ORDER BY row_number LIMIT 1)) found
ORDER BY preference
LIMIT 1
