-- For emptying the queue with TRUNCATE: only if granted at once (NOWAIT), as a writer's
-- open transaction may hold the table and waiting on it could deadlock with it.
LOCK TABLE dedup_queue IN ACCESS EXCLUSIVE MODE NOWAIT
