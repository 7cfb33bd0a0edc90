-- Queue one person for re-resolution by the next (or the current) run.
INSERT INTO dedup_queue (person_id) VALUES (%(person_id)s)
