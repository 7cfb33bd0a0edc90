-- The queued people that still exist, for an incremental run.
INSERT INTO dedup_ids (person_id)
SELECT DISTINCT s.person_id
FROM dedup_seen s
JOIN persons p ON p.id = s.person_id
