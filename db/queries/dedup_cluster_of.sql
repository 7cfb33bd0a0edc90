-- The cluster a person belongs to: its golden record and every duplicate of it.
WITH g AS (SELECT coalesce(golden_id, id) AS golden_id FROM persons WHERE id = %(person_id)s)
SELECT id, golden_id, is_original, manual_override
FROM persons
WHERE id = (SELECT golden_id FROM g)
UNION ALL
SELECT id, golden_id, is_original, manual_override
FROM persons
WHERE golden_id = (SELECT golden_id FROM g)
ORDER BY id
