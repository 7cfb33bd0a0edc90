"""leadpipe: partner ingestion, legacy migration, golden-record dedup and compliance."""
