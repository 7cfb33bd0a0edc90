-- Estimated rows of each table (0 for one never analyzed), to tell whether a write-back
-- changes a large share of it.
SELECT c.relname::text, greatest(c.reltuples, 0)::bigint
FROM pg_class c
WHERE c.oid = ANY (%(tables)s::text[]::regclass[])
