-- A migrated batch's rows as they are kept (replay): loaded rows from stg_person, rejected
-- rows from the raw row of their ERROR finding, in row_number order after a key, as CSV.
-- A rejected row's source key is its row number, as every source keys its rows. A staged
-- row's raw json goes out as jsonb's text: one line, whatever whitespace it was kept with.
COPY (
    SELECT row_number, source_key, raw
    FROM (
        SELECT s.row_number, coalesce(s.source_key, s.row_number::text) AS source_key,
               s.raw::jsonb::text AS raw
        FROM stg_person s
        WHERE NOT %(errors_only)s
          AND s.batch_id = %(batch_id)s AND s.row_number > %(after)s
        UNION ALL
        (SELECT DISTINCT ON (e.row_number) e.row_number, e.row_number::text, e.raw_row
         FROM import_errors e
         WHERE e.batch_id = %(batch_id)s AND e.row_number > %(after)s
           AND e.severity = 'ERROR' AND e.raw_row IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM stg_person s
                           WHERE s.batch_id = e.batch_id AND s.row_number = e.row_number)
         ORDER BY e.row_number, e.id)
    ) stored
    ORDER BY row_number
    LIMIT %(limit)s
) TO STDOUT (FORMAT csv)
