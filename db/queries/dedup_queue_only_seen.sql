-- Under the exclusive lock: whether the queue holds exactly the rows this run read. Only
-- runs delete queue rows, one run at a time, so equal counts mean the same rows.
SELECT (SELECT count(*) FROM dedup_queue) = (SELECT count(*) FROM dedup_seen)
