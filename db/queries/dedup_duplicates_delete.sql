-- Rows of people no longer duplicates, and rows about to point at another golden record.
DELETE FROM person_duplicates pd
USING dedup_change c
WHERE pd.duplicate_id = c.person_id AND c.change IN ('separated', 'merged')
