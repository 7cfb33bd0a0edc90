SELECT count(*) FILTER (WHERE flags_change)                                 AS persons_changed,
       count(*) FILTER (WHERE change = 'merged' AND NOT led_cluster)        AS merges,
       count(*) FILTER (WHERE change = 'merged' AND led_cluster)            AS golden_changes,
       count(*) FILTER (WHERE change = 'separated')                         AS unmerges,
       count(*) FILTER (WHERE change = 'rescored')                          AS rescored
FROM dedup_change
