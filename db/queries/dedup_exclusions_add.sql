-- Keep a person apart from everyone of its stored matching component and its cluster, so
-- no later run pairs them again (dedup_ray.engine.run's `exclude`).
INSERT INTO dedup_exclusions (person_id, other_id, actor)
SELECT least(p.id, o.id), greatest(p.id, o.id), %(actor)s
FROM persons p
CROSS JOIN LATERAL (
    SELECT k.person_id AS id
    FROM dedup_person_keys k
    WHERE k.component_id = (SELECT component_id FROM dedup_person_keys WHERE person_id = p.id)
    UNION
    SELECT coalesce(p.golden_id, p.id)
    UNION
    SELECT m.id FROM persons m WHERE m.golden_id = p.golden_id
) o
WHERE p.id = %(person_id)s AND o.id <> p.id
ON CONFLICT DO NOTHING
