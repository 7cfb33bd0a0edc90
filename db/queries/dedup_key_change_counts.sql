SELECT count(*) FILTER (WHERE rekey) AS rekeyed, count(*) FILTER (WHERE NOT rekey) AS moved
FROM dedup_key_change
