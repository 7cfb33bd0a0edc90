-- dedup_band_keys is unlogged (0013_dedup_speed.sql): empty while people have stored keys
-- means crash recovery emptied it.
SELECT NOT EXISTS (SELECT 1 FROM dedup_band_keys) AND EXISTS (SELECT 1 FROM dedup_person_keys)
