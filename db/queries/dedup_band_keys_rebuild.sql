-- The band keys again from the per-person rows (after crash recovery emptied the unlogged
-- table); %(layout)s is the band of each packed position (dedup_ray.store.band_layout).
INSERT INTO dedup_band_keys (bucket_hash, band, person_id)
SELECT u.bucket_hash, (%(layout)s::smallint[])[u.band_position], pk.person_id
FROM dedup_person_keys pk
CROSS JOIN LATERAL dedup_unpack_buckets(pk.buckets) AS u
WHERE u.bucket_hash <> 0
ORDER BY u.bucket_hash
