-- The table was created in this transaction: rows are written frozen and their pages
-- all-visible, so lookups are index-only scans without a VACUUM first.
COPY dedup_band_keys_next (bucket_hash, band, person_id) FROM STDIN (FORMAT binary, FREEZE)
