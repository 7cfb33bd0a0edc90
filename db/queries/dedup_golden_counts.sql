-- Golden record counts: every person, the golden records, the merged duplicates, and the
-- golden records that have at least one duplicate.
SELECT p.persons, p.golden_records, d.duplicates, d.merged_clusters
FROM (SELECT count(*) AS persons, count(*) FILTER (WHERE is_original) AS golden_records
      FROM persons) p,
     (SELECT count(*) AS duplicates, count(DISTINCT original_id) AS merged_clusters
      FROM person_duplicates) d
