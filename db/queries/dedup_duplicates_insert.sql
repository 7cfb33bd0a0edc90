INSERT INTO person_duplicates (duplicate_id, original_id, match_score, match_reason,
                               score_parts, dedup_run_id)
SELECT person_id, new_original, match_score, match_reason, score_parts, %(run_id)s
FROM dedup_change
WHERE change = 'merged'
