-- Buckets a key-store question is about: i = position in the question's arrays;
-- subkey <> 0 limits a bucket to the members of that capped-bucket sub-key.
CREATE TEMP TABLE IF NOT EXISTS dedup_lookup (
    i           integer  NOT NULL,
    band        smallint NOT NULL,
    bucket_hash bigint   NOT NULL,
    subkey      bigint   NOT NULL
) ON COMMIT DROP
