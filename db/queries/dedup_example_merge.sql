-- One merge worth explaining: the weakest tier (fuzzy matches say most), then the lowest id.
SELECT duplicate_id, original_id
FROM person_duplicates
ORDER BY (score_parts ->> 'tier')::int DESC NULLS LAST, duplicate_id
LIMIT 1
