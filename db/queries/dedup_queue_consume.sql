DELETE FROM dedup_queue q
USING dedup_seen s
WHERE q.id = s.id
