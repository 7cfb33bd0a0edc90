-- Rows arrive in bucket order, so the build reads presorted input. Same definition as
-- dedup_band_keys_bucket in 0010_dedup.sql, whose name it takes at the swap.
CREATE INDEX dedup_band_keys_next_bucket
    ON dedup_band_keys_next (bucket_hash) INCLUDE (person_id)
