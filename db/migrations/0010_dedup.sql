-- Dedup write-back support (dedup_ray/runs.py, dedup_ray/writeback.py, dedup_ray/store.py).
--
-- * dedup_band_keys / dedup_person_keys: the blocking keys of every resolved person, so a
--   daily run matches its new people against everything resolved before with index
--   lookups. The bucket table has one index, by bucket: with a second one by person over
--   ~17 rows per person a first load of 1M people took 37-47 s against 13 s, so each
--   person's keys are also kept as one packed row in dedup_person_keys (keys of changed
--   people, deletes, the matching component).
-- * dedup_queue: people inserted or changed since they were last resolved, fed by
--   statement-level triggers on persons and addresses, consumed by dedup runs; a daily run
--   costs what its queue holds, not what the table holds.
-- * dedup_exclusions: pairs an operator separated (`leadpipe dedup unmerge`); runs drop
--   these pairs before clustering and never keep them as golden record and duplicate.

ALTER TABLE dedup_runs ALTER COLUMN job_id SET DEFAULT gen_random_uuid();
ALTER TABLE dedup_runs
    ADD COLUMN actor text,
    ADD COLUMN error text;
CREATE INDEX dedup_runs_finished ON dedup_runs (finished_at DESC) WHERE status = 'COMPLETE';

-- Every (band, bucket) a person falls into: LSH bands 0..bands-1 and the exact-key bands
-- (100 email, 101 phone, 102 name+ZIP, 103 name+phone7, 104 initial+last+ZIP). Bucket
-- hashes mix in their band (dedup_ray.blocking), so a bucket is found by its hash alone
-- and the one index covers the lookups (index-only scans for members and sizes). It is
-- not unique: building a (bucket_hash, band, person_id) key took 11-12 s for 1M people
-- against 6.5 s for this one. Rows are removed with their dedup_person_keys row (trigger
-- below), so there is no index by person and no per-row foreign key check.
-- A full reload builds dedup_band_keys_next beside it and swaps it in (and rebuilds the
-- indexes of dedup_person_keys): a change to these tables or their indexes must also go
-- into db/queries/dedup_band_keys_next_*.sql and dedup_person_keys_add_*.sql.
CREATE TABLE dedup_band_keys (
    bucket_hash bigint   NOT NULL,
    band        smallint NOT NULL,
    person_id   bigint   NOT NULL
);
CREATE INDEX dedup_band_keys_bucket ON dedup_band_keys (bucket_hash) INCLUDE (person_id);

-- One row per resolved person: its bucket hashes in band order, packed as big-endian
-- 8-byte integers (the order of dedup_ray.blocking.RecordKeys.bands for the runs'
-- settings, which incremental runs keep; 0 = no key), the capped-bucket sub-key, the
-- matching component (smallest person id of its component before chain splitting) and a
-- digest of the keys that tells a re-run whose keys changed. Packed, PostgreSQL does not
-- parse 17 numbers a row (as text bigint[], a million rows took 12 s to load).
CREATE TABLE dedup_person_keys (
    person_id    bigint PRIMARY KEY REFERENCES persons (id) ON DELETE CASCADE,
    subkey       bigint NOT NULL,
    component_id bigint NOT NULL,
    digest       bigint NOT NULL,
    buckets      bytea  NOT NULL CHECK (length(buckets) % 8 = 0)
);
CREATE INDEX dedup_person_keys_component ON dedup_person_keys (component_id);

-- The bucket hashes packed in a dedup_person_keys.buckets value, in band order.
CREATE FUNCTION dedup_unpack_buckets(packed bytea)
RETURNS TABLE (band_position integer, bucket_hash bigint)
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT i + 1, ('x' || encode(substring(packed FROM 8 * i + 1 FOR 8), 'hex'))::bit(64)::bigint
    FROM generate_series(0, length(packed) / 8 - 1) AS i
$$;

CREATE FUNCTION dedup_drop_band_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dedup_band_keys k
    USING (SELECT g.person_id, u.bucket_hash
           FROM gone g, dedup_unpack_buckets(g.buckets) AS u
           WHERE u.bucket_hash <> 0) d
    WHERE k.bucket_hash = d.bucket_hash AND k.person_id = d.person_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER dedup_person_keys_drop_band_keys
    AFTER DELETE ON dedup_person_keys
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_drop_band_keys();

-- The change queue. Rows are consumed by id (a run deletes exactly the rows it read), so a
-- change committed while a run works is kept for the next one.
CREATE TABLE dedup_queue (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id bigint      NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION dedup_enqueue_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'persons' THEN
        INSERT INTO dedup_queue (person_id) SELECT id FROM inserted;
    ELSE
        INSERT INTO dedup_queue (person_id) SELECT DISTINCT person_id FROM inserted;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION dedup_enqueue_deleted_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dedup_queue (person_id) SELECT DISTINCT person_id FROM gone;
    RETURN NULL;
END
$$;

-- Only changes to what matching reads count; dedup's own writes (is_original, golden_id)
-- do not queue anyone.
CREATE FUNCTION dedup_enqueue_updated_person() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dedup_queue (person_id)
    SELECT n.id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (n.first_name, n.middle_name, n.last_name, n.primary_email, n.primary_phone_e164,
           n.zip5, n.source_updated_at, n.manual_override, n.email_verified, n.phone_verified)
          IS DISTINCT FROM
          (o.first_name, o.middle_name, o.last_name, o.primary_email, o.primary_phone_e164,
           o.zip5, o.source_updated_at, o.manual_override, o.email_verified, o.phone_verified);
    RETURN NULL;
END
$$;

CREATE FUNCTION dedup_enqueue_updated_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dedup_queue (person_id)
    SELECT DISTINCT u.person_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id,
         LATERAL (VALUES (n.person_id), (o.person_id)) AS u (person_id)
    WHERE (n.person_id, n.street, n.city, n.state, n.is_primary)
          IS DISTINCT FROM (o.person_id, o.street, o.city, o.state, o.is_primary);
    RETURN NULL;
END
$$;

CREATE TRIGGER persons_dedup_queue_insert
    AFTER INSERT ON persons REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_enqueue_inserted();
CREATE TRIGGER persons_dedup_queue_update
    AFTER UPDATE ON persons REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_enqueue_updated_person();
CREATE TRIGGER addresses_dedup_queue_insert
    AFTER INSERT ON addresses REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_enqueue_inserted();
CREATE TRIGGER addresses_dedup_queue_update
    AFTER UPDATE ON addresses REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_enqueue_updated_address();
CREATE TRIGGER addresses_dedup_queue_delete
    AFTER DELETE ON addresses REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION dedup_enqueue_deleted_address();

-- People loaded before this migration have never been resolved.
INSERT INTO dedup_queue (person_id) SELECT id FROM persons;

-- Pairs an operator separated; person_id < other_id.
CREATE TABLE dedup_exclusions (
    person_id  bigint      NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    other_id   bigint      NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    actor      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, other_id),
    CHECK (person_id < other_id)
);
CREATE INDEX dedup_exclusions_other ON dedup_exclusions (other_id);

-- Large write-backs (a first full run) drop the foreign keys of the tables they fill and
-- add them back at the end: one validating join instead of a per-row check, which costs
-- about 12 us a row here (a million-row run writes ~3M checked rows). The definitions are
-- read from the catalog, so they come back exactly as the migrations made them.
CREATE FUNCTION dedup_suspend_foreign_keys(tables regclass[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    fk record;
    n  integer := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS dedup_suspended_fks (
        tbl regclass, name text, definition text
    ) ON COMMIT DROP;
    FOR fk IN
        SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint
        WHERE contype = 'f' AND conrelid = ANY (tables)
        ORDER BY conrelid, conname
    LOOP
        INSERT INTO dedup_suspended_fks VALUES (fk.tbl, fk.conname, fk.definition);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

CREATE FUNCTION dedup_restore_foreign_keys() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    fk record;
    n  integer := 0;
BEGIN
    IF to_regclass('pg_temp.dedup_suspended_fks') IS NULL THEN
        RETURN 0;
    END IF;
    FOR fk IN SELECT * FROM dedup_suspended_fks ORDER BY tbl, name LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.definition);
        n := n + 1;
    END LOOP;
    DELETE FROM dedup_suspended_fks;
    RETURN n;
END
$$;
