-- The person tables and every table whose foreign keys point at them, directly or through
-- other such tables (a TRUNCATE of the person tables must name them all), each with
-- whether this role may truncate it (first load).
WITH RECURSIVE referencing (tbl) AS (
    SELECT unnest(%(tables)s::regclass[])
    UNION
    SELECT c.conrelid::regclass
    FROM pg_constraint c JOIN referencing r ON c.confrelid = r.tbl
    WHERE c.contype = 'f'
)
SELECT tbl::text, has_table_privilege(tbl, 'TRUNCATE') FROM referencing
ORDER BY tbl = ANY (%(tables)s::regclass[]) DESC, 1
