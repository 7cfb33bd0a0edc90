-- The stored comparison of two people, when one is the other's duplicate.
SELECT duplicate_id, original_id, match_score, match_reason, score_parts, dedup_run_id,
       merged_at
FROM person_duplicates
WHERE (duplicate_id = %(a)s AND original_id = %(b)s)
   OR (duplicate_id = %(b)s AND original_id = %(a)s)
