-- What the run changes, person by person; unchanged people are left out, so writing an
-- unchanged result writes nothing. `change` is about the person_duplicates row:
-- 'merged' (new, or pointing at another golden record), 'separated' (no longer a
-- duplicate), 'rescored' (same golden record, another score or other parts).
-- `led_cluster`: a merged person was the golden record of others (a golden change).
CREATE TEMP TABLE dedup_change ON COMMIT DROP AS
WITH new_rows AS (
    SELECT d.duplicate_id, d.original_id, d.match_score, d.match_reason,
           jsonb_build_object(
               'tier', d.tier, 'confidence', d.confidence, 'reason', d.match_reason,
               'golden_rule', d.golden_rule, 'name', d.name, 'email', d.email,
               'phone', d.phone, 'address', d.address, 'first_name', d.first_name,
               'name_distance', d.name_distance, 'name_similarity', d.name_similarity,
               'address_similarity', d.address_similarity) AS score_parts
    FROM dedup_dup d
), compared AS (
    SELECT a.person_id,
           a.golden_id     AS new_golden,
           p.golden_id     AS old_golden,
           p.is_original   AS was_original,
           pd.original_id  AS old_original,
           pd.match_score  AS old_score,
           pd.match_reason AS old_reason,
           n.original_id   AS new_original,
           n.match_score,
           n.match_reason,
           n.score_parts,
           CASE
               WHEN n.duplicate_id IS NULL AND pd.duplicate_id IS NULL THEN NULL
               WHEN n.duplicate_id IS NULL THEN 'separated'
               WHEN pd.duplicate_id IS NULL OR pd.original_id <> n.original_id THEN 'merged'
               WHEN (pd.match_score, pd.match_reason, pd.score_parts)
                    IS DISTINCT FROM (n.match_score, n.match_reason, n.score_parts)
                   THEN 'rescored'
           END AS change
    FROM dedup_assign a
    -- Index lookups per resolved person (OFFSET 0 keeps them so): a daily run's cost
    -- follows its people, not the size of persons and person_duplicates.
    CROSS JOIN LATERAL (
        SELECT p.golden_id, p.is_original FROM persons p WHERE p.id = a.person_id OFFSET 0
    ) p
    LEFT JOIN LATERAL (
        SELECT pd.duplicate_id, pd.original_id, pd.match_score, pd.match_reason, pd.score_parts
        FROM person_duplicates pd
        WHERE pd.duplicate_id = a.person_id
        OFFSET 0
    ) pd ON true
    LEFT JOIN new_rows n ON n.duplicate_id = a.person_id
)
SELECT c.*,
       c.new_golden IS DISTINCT FROM c.old_golden
           OR c.was_original <> (c.new_golden IS NULL) AS flags_change,
       c.change IS NOT DISTINCT FROM 'merged'
           AND EXISTS (SELECT 1 FROM person_duplicates x WHERE x.original_id = c.person_id)
           AS led_cluster
FROM compared c
WHERE c.change IS NOT NULL
   OR c.new_golden IS DISTINCT FROM c.old_golden
   OR c.was_original <> (c.new_golden IS NULL)
