-- Lineage of the run's merges ('merged_from' on the golden record, naming the fields taken
-- from the duplicate) and separations ('unmerged' on the separated person).
INSERT INTO person_lineage (person_id, action, fields, merge_reason, related_person_id,
                            dedup_run_id)
SELECT CASE WHEN c.change = 'merged' THEN c.new_original ELSE c.person_id END,
       CASE WHEN c.change = 'merged' THEN 'merged_from' ELSE 'unmerged' END,
       coalesce(f.fields, '{}'),
       CASE WHEN c.change = 'merged' THEN c.match_reason ELSE c.old_reason END,
       CASE WHEN c.change = 'merged' THEN c.person_id ELSE c.old_original END,
       %(run_id)s
FROM dedup_change c
LEFT JOIN (
    SELECT from_person_id, golden_id, array_agg(field ORDER BY field) AS fields
    FROM dedup_fields
    GROUP BY from_person_id, golden_id
) f ON f.from_person_id = c.person_id AND f.golden_id = c.new_original
WHERE c.change IN ('merged', 'separated')
