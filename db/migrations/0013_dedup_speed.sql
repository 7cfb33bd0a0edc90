-- Dedup write-back speed (issue 7).
--
-- dedup_band_keys is derived data: every row of it is also packed in
-- dedup_person_keys.buckets. Logged, a first run over 1M people wrote about 1.4 GB of WAL
-- for its 17M rows and their index, and the checkpoints that forced made every other write
-- of the run pay full-page images again. Unlogged, it is emptied by crash recovery (and is
-- empty on a physical standby): every run checks for that first and rebuilds it from
-- dedup_person_keys (db/queries/dedup_band_keys_lost.sql, dedup_band_keys_rebuild.sql).
-- A full reload creates its dedup_band_keys_next unlogged as well.
ALTER TABLE dedup_band_keys SET UNLOGGED;

-- A write-back that changes a large share of a table (a first full run: a third of persons,
-- and person_duplicates, dedup_audit_log and person_lineage from empty) also drops the
-- indexes of that table that back no constraint and builds them again at the end. Row by
-- row, every non-HOT update inserts into each index (and, its key unchanged, first tries a
-- bottom-up deletion that cannot succeed inside the run's own transaction), dirtying index
-- pages at random through a small buffer pool; one sorted build per index costs a
-- fraction of that. Definitions are read from the catalog, so the indexes come back
-- exactly as the migrations made them.
CREATE FUNCTION dedup_suspend_indexes(tables regclass[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ix record;
    n  integer := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS dedup_suspended_indexes (
        name text, definition text
    ) ON COMMIT DROP;
    FOR ix IN
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i
        WHERE i.indrelid = ANY (tables)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        ORDER BY i.indrelid, 1
    LOOP
        INSERT INTO dedup_suspended_indexes VALUES (ix.name, ix.definition);
        EXECUTE format('DROP INDEX %s', ix.name);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

CREATE FUNCTION dedup_restore_indexes() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ix record;
    n  integer := 0;
BEGIN
    IF to_regclass('pg_temp.dedup_suspended_indexes') IS NULL THEN
        RETURN 0;
    END IF;
    FOR ix IN SELECT * FROM dedup_suspended_indexes ORDER BY name LOOP
        EXECUTE ix.definition;
        n := n + 1;
    END LOOP;
    DELETE FROM dedup_suspended_indexes;
    RETURN n;
END
$$;

-- The foreign keys of `tables` on the given columns only (persons.golden_id: the one key a
-- write-back changes there); restored by dedup_restore_foreign_keys() with the others.
CREATE FUNCTION dedup_suspend_foreign_keys(tables regclass[], columns name[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    fk record;
    n  integer := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS dedup_suspended_fks (
        tbl regclass, name text, definition text
    ) ON COMMIT DROP;
    FOR fk IN
        SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid = ANY (tables)
          AND NOT EXISTS (SELECT 1
                          FROM unnest(c.conkey) AS k (attnum)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                          WHERE a.attname <> ALL (columns))
        ORDER BY c.conrelid, c.conname
    LOOP
        INSERT INTO dedup_suspended_fks VALUES (fk.tbl, fk.conname, fk.definition);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
