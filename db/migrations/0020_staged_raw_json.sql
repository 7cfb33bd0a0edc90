-- A staged person row's raw source row is kept as json (its text, checked), not jsonb.
-- jsonb's input function builds a binary object of every row as it is COPYed in, which
-- nothing needs: the raw row is read back whole (replay) and compared whole (a replayed
-- row against its staged one, as jsonb then). COPYing 200,000 staged rows from the 1M
-- benchmark's MariaDB source cost PostgreSQL 1.14-1.54 CPU s with jsonb, 0.77 with json
-- (one-off probe, two rounds). json also keeps the source's column order.
ALTER TABLE stg_person ALTER COLUMN raw TYPE json USING raw::json;
