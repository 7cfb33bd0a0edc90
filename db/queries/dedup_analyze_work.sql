-- Temporary tables are never auto-analyzed; the joins below need row counts.
ANALYZE dedup_assign, dedup_dup, dedup_fields, dedup_key_state
