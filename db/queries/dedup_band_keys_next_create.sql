-- A full reload of the band keys is built beside the live table (on a second connection,
-- while the run writes its results) and swapped in by the run's transaction. Unlogged, as
-- the live table is (0013_dedup_speed.sql).
CREATE UNLOGGED TABLE dedup_band_keys_next (
    LIKE dedup_band_keys INCLUDING DEFAULTS INCLUDING CONSTRAINTS
)
