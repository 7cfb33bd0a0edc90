-- The columns that name the import a person row came from (persons.first_batch_id and
-- last_batch_id, the child tables' source_batch_id, person_lineage.batch_id) stop being
-- foreign keys. Every import wrote them from the batch it runs under, and each paid a
-- referential check per row: six per migrated row, about a third of the upsert's time
-- (measured: 5-14 us per check, 10 checks per row). import_batches is the import ledger;
-- instead of the checks, a batch that people's lineage names can no longer be deleted
-- (every import writes lineage for each row that inserted, updated or added to a person).
ALTER TABLE persons DROP CONSTRAINT IF EXISTS persons_first_batch_id_fkey,
                    DROP CONSTRAINT IF EXISTS persons_last_batch_id_fkey;
ALTER TABLE phone_numbers DROP CONSTRAINT IF EXISTS phone_numbers_source_batch_id_fkey;
ALTER TABLE email_addresses DROP CONSTRAINT IF EXISTS email_addresses_source_batch_id_fkey;
ALTER TABLE addresses DROP CONSTRAINT IF EXISTS addresses_source_batch_id_fkey;
ALTER TABLE person_lineage DROP CONSTRAINT IF EXISTS person_lineage_batch_id_fkey;

CREATE FUNCTION import_batches_keep_referenced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM person_lineage WHERE batch_id = OLD.id) THEN
        RAISE EXCEPTION 'import batch % is named by person lineage: import batches that '
                        'loaded people are the ledger of where they came from and are kept',
                        OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER import_batches_keep_referenced BEFORE DELETE ON import_batches
    FOR EACH ROW EXECUTE FUNCTION import_batches_keep_referenced();

-- upsert_persons ran with plan_cache_mode = force_custom_plan, which also reached the
-- foreign-key checks its inserts fire: each check planned its lookup again, about 40 us per
-- child row instead of reusing the saved plan. Its own statements read temporary tables
-- that each pass creates anew, so they are planned for the pass's sizes without it.
ALTER FUNCTION upsert_persons(bigint, bigint, bigint) RESET plan_cache_mode;
