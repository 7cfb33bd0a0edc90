SELECT dedup_restore_indexes()
