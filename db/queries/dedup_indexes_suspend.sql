SELECT dedup_suspend_indexes(%(tables)s::text[]::regclass[])
