-- A reload's table left by a run that failed after loading it.
DROP TABLE IF EXISTS dedup_band_keys_next
