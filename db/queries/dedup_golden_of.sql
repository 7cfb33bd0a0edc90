SELECT id, coalesce(golden_id, id) AS golden_id, is_original
FROM persons
WHERE id = ANY (%(ids)s)
ORDER BY id
