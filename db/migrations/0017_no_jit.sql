-- The set-based import functions run without JIT compilation. Their statements read
-- temporary tables created a moment before, whose estimates (a per-row subplan over a
-- table autovacuum has not analyzed yet: costs in the hundreds of millions) cross every
-- JIT threshold, so a server built with LLVM compiled and optimized about 190 statements
-- of a million-row migration, 0.1-0.5 s each, for queries that run in milliseconds. The
-- embedded server has no JIT provider; a deployment's PostgreSQL usually does.
ALTER FUNCTION upsert_persons(bigint, bigint, bigint) SET jit = off;
ALTER FUNCTION promote_mortgage(bigint, char(6), date) SET jit = off;
ALTER FUNCTION apply_deliveries(bigint) SET jit = off;
