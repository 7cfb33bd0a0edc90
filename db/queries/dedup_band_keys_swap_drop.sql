DROP TABLE dedup_band_keys
