-- One audit row per merge, golden change and separation of the run. merged_fields: the
-- values the golden view takes from this duplicate ({field: {value, rule}}).
INSERT INTO dedup_audit_log (job_id, action, original_person_id, duplicate_person_id,
                             match_score, match_reason, merged_fields, actor)
SELECT %(job_id)s,
       CASE WHEN c.change = 'separated' THEN 'unmerge'
            WHEN c.led_cluster THEN 'golden_change'
            ELSE 'merge' END,
       CASE WHEN c.change = 'separated' THEN c.old_original ELSE c.new_original END,
       c.person_id,
       CASE WHEN c.change = 'separated' THEN c.old_score ELSE c.match_score END,
       CASE WHEN c.change = 'separated' THEN c.old_reason ELSE c.match_reason END,
       CASE WHEN c.change = 'separated' THEN NULL ELSE coalesce(f.fields, '{}'::jsonb) END,
       %(actor)s
FROM dedup_change c
LEFT JOIN (
    SELECT from_person_id, golden_id,
           jsonb_object_agg(field, jsonb_build_object('value', value, 'rule', rule)) AS fields
    FROM dedup_fields
    GROUP BY from_person_id, golden_id
) f ON f.from_person_id = c.person_id AND f.golden_id = c.new_original
WHERE c.change IN ('merged', 'separated')
