-- Same golden record, new comparison (the person's data changed): merged_at is kept.
UPDATE person_duplicates pd
SET match_score  = c.match_score,
    match_reason = c.match_reason,
    score_parts  = c.score_parts,
    dedup_run_id = %(run_id)s
FROM dedup_change c
WHERE pd.duplicate_id = c.person_id AND c.change = 'rescored'
