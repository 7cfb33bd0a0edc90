COPY dedup_band_keys (bucket_hash, band, person_id) FROM STDIN (FORMAT binary)
