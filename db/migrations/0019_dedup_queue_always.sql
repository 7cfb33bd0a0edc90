-- The dedup queue triggers on persons and addresses fire in replica mode too, so that
-- replica mode (session_replication_role, which the import functions set to skip the
-- per-row foreign-key checks of rows whose references hold by construction) no longer
-- silences them: the upsert now writes persons and addresses rows that way as well
-- (db/functions/upsert_persons.sql; partner_checks_skippable lets such triggers through).
ALTER TABLE persons ENABLE ALWAYS TRIGGER persons_dedup_queue_insert;
ALTER TABLE persons ENABLE ALWAYS TRIGGER persons_dedup_queue_update;
ALTER TABLE addresses ENABLE ALWAYS TRIGGER addresses_dedup_queue_insert;
ALTER TABLE addresses ENABLE ALWAYS TRIGGER addresses_dedup_queue_update;
ALTER TABLE addresses ENABLE ALWAYS TRIGGER addresses_dedup_queue_delete;
