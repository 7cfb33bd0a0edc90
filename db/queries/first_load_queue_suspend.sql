-- A first load queues its people for dedup once, by id, as it sends them
-- (first_load_queue_people.sql), instead of through the insert triggers of persons and
-- addresses: the COPY of the people kept every row in a transition table and queued them
-- all at its end, on the load's last stretch. first_load_queue_restore.sql (or the load's
-- rollback) turns the triggers back on.
ALTER TABLE persons DISABLE TRIGGER persons_dedup_queue_insert;
ALTER TABLE addresses DISABLE TRIGGER addresses_dedup_queue_insert;
