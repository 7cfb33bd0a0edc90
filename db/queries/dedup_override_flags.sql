-- An operator marks one person golden: the mark is set on it and taken from the rest of
-- its cluster (the persons trigger queues every changed row for re-resolution).
UPDATE persons
SET manual_override = (id = %(person_id)s), updated_at = now()
WHERE id = ANY (%(members)s) AND manual_override <> (id = %(person_id)s)
RETURNING id, manual_override
