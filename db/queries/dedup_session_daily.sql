-- A daily run's few thousand people are joined with the big tables by index lookups:
-- with hash joins each statement read persons, person_duplicates and the stored keys
-- whole (a cost that grows with the tables, not with the day's people).
SELECT set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true)
