-- The triggers first_load_queue_suspend.sql turned off, as migration 0019 left them (they
-- fire in replica mode too).
ALTER TABLE persons ENABLE ALWAYS TRIGGER persons_dedup_queue_insert;
ALTER TABLE addresses ENABLE ALWAYS TRIGGER addresses_dedup_queue_insert;
