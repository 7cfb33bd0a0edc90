-- A first load's child tables get their indexes back before its last call is written
-- (tasks/first_load.py: FirstLoad.finish), the people's at the end.
SELECT dedup_restore_indexes(%(tables)s::text[]::regclass[])
