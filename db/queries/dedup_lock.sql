-- One dedup run (or operator change) at a time; released at commit or rollback.
SELECT pg_advisory_xact_lock(hashtextextended('leadpipe.dedup', 0))
