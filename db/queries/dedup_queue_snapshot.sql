-- The queue rows this run consumes: exactly these are deleted at the end, so a change
-- committed while the run works stays queued for the next run.
CREATE TEMP TABLE dedup_seen ON COMMIT DROP AS
SELECT id, person_id FROM dedup_queue
