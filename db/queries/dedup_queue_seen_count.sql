SELECT count(*) FROM dedup_seen
