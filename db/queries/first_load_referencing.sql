-- The tables whose foreign keys point at the person tables, directly or through other
-- such tables, other than those tables themselves: a TRUNCATE of the person tables must
-- name them too (first load).
WITH RECURSIVE referencing (tbl) AS (
    SELECT unnest(%(tables)s::regclass[])
    UNION
    SELECT c.conrelid::regclass
    FROM pg_constraint c JOIN referencing r ON c.confrelid = r.tbl
    WHERE c.contype = 'f'
)
SELECT tbl::text FROM referencing
WHERE NOT tbl = ANY (%(tables)s::regclass[])
ORDER BY 1
