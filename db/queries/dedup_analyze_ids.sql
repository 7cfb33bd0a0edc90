-- Row counts for the joins on dedup_ids (the bucket lookups are per-row index scans).
ANALYZE dedup_ids
