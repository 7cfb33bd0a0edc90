-- dedup_restore_indexes can build the suspended indexes of some tables only (a first load
-- builds its child tables' indexes while DuckDB does its last call, the people's at the
-- end); without an argument it builds them all, as before. Each suspended index now
-- records its table.
CREATE OR REPLACE FUNCTION dedup_suspend_indexes(tables regclass[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ix record;
    n  integer := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS dedup_suspended_indexes (
        name text, definition text, tbl regclass
    ) ON COMMIT DROP;
    FOR ix IN
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
               i.indrelid::regclass AS tbl
        FROM pg_index i
        WHERE i.indrelid = ANY (tables)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        ORDER BY i.indrelid, 1
    LOOP
        INSERT INTO dedup_suspended_indexes VALUES (ix.name, ix.definition, ix.tbl);
        EXECUTE format('DROP INDEX %s', ix.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

DROP FUNCTION dedup_restore_indexes();
CREATE FUNCTION dedup_restore_indexes(tables regclass[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ix record;
    n  integer := 0;
BEGIN
    IF to_regclass('pg_temp.dedup_suspended_indexes') IS NULL THEN
        RETURN 0;
    END IF;
    FOR ix IN SELECT * FROM dedup_suspended_indexes
              WHERE tables IS NULL OR tbl = ANY (tables) ORDER BY name LOOP
        EXECUTE ix.definition;
        DELETE FROM dedup_suspended_indexes WHERE name = ix.name;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
