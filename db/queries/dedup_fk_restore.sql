SELECT dedup_restore_foreign_keys()
