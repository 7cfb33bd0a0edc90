SELECT dedup_suspend_foreign_keys(%(tables)s::text[]::regclass[], %(columns)s::name[])
