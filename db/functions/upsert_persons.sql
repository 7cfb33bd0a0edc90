-- upsert_persons(batch, first_row, last_row): the batch's staged person rows (a range of them)
-- into persons and their child tables. The contract (matching, in-batch grouping, newer wins,
-- never NULL over a value, lineage, audit, idempotency) is written down in
-- db/migrations/0011_person_upsert.sql; 0018_person_rematch.sql holds the body this file
-- replaced. How it is fast:
-- * The first pass looks every distinct key value of the call up once, as index probes.
-- * A later pass re-matches without the indexes, from those answers and the people the call
--   touched, and only for the rows whose answer can have changed: a row's answer follows from
--   the lowest holders of its key values, and only a value the last pass gave to or took from
--   a person (ups_moved) can have a new lowest holder; and a row the last pass made a new
--   person of, whose answer was "no one" (ups_regroup). Any other row would get the answer it
--   got before, which ups_done holds. (Re-matching every row on every pass had cost 29 of
--   212 s of upsert in a million-row migration.)
-- * The per-row foreign-key checks of every row it writes are skipped where the role may,
--   after one FOR KEY SHARE lock of the stored people the rows name; the dedup queue
--   triggers still fire (0019_dedup_queue_always.sql).
-- * Child rows go in without ON CONFLICT: the anti-joins leave out every stored value, the
--   calls are serialized by the advisory lock, and the only other writer (promote_mortgage)
--   writes child rows only for the people it inserts itself; a conflict is a bug and fails
--   the batch.
-- * No JIT (0017_no_jit.sql); temporary tables analyzed from a small sample.
CREATE OR REPLACE FUNCTION upsert_persons(p_batch bigint, p_first_row bigint DEFAULT NULL,
                               p_last_row bigint DEFAULT NULL)
RETURNS TABLE (inserted bigint, updated bigint, matched bigint, unchanged bigint)
LANGUAGE plpgsql
-- Sorts and hashes over 100k-row batches stay in memory instead of spilling at 4MB; the
-- temporary tables are analyzed from a small sample (a full one of a 30-column, 100k-row
-- table costs more than the statement that fills it); no JIT (0017_no_jit.sql).
SET work_mem = '64MB'
SET default_statistics_target = 10
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_file       text;
    v_rows       bigint;
    v_inserted   bigint;
    v_updated    bigint;
    v_matched    bigint;
    v_unchanged  bigint;
    v_touched    bigint := 0;
    v_count      bigint;
    v_passes     integer := 0;
    v_role       text := current_setting('session_replication_role');
    v_hashjoin   text := current_setting('enable_hashjoin');
    v_mergejoin  text := current_setting('enable_mergejoin');
    v_nestloop   text := current_setting('enable_nestloop');
    v_skip       boolean := partner_checks_skippable(
        ARRAY['persons', 'phone_numbers', 'email_addresses', 'addresses',
              'person_lineage']::regclass[]);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('upsert_persons'));
    SELECT filename INTO v_file FROM import_batches WHERE id = p_batch;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'upsert_persons: no import batch %', p_batch;
    END IF;

    -- 1. The batch's rows, cleaned once: blanks become NULL and values the persons CHECKs
    --    would reject become NULL, so one odd row cannot abort the whole batch.
    DROP TABLE IF EXISTS pg_temp.ups_rows, pg_temp.ups_done, pg_temp.ups_actions,
                         pg_temp.ups_k_email, pg_temp.ups_k_phone, pg_temp.ups_k_name_zip,
                         pg_temp.ups_touched, pg_temp.ups_moved, pg_temp.ups_regroup;
    CREATE TEMP TABLE ups_rows ON COMMIT DROP AS
    SELECT c.*, lower(c.first_name) AS lf, lower(c.last_name) AS ll,
           coalesce(c.phone1, c.phone2) AS phone,
           c.email IS NOT NULL OR c.phone1 IS NOT NULL OR c.phone2 IS NOT NULL
             OR (c.first_name IS NOT NULL AND c.last_name IS NOT NULL AND c.zip5 IS NOT NULL)
             AS has_key
    FROM (
        SELECT s.row_number AS rn, s.source_system, s.source_key,
               s.source_updated_at AS ts,
               nullif(btrim(s.first_name), '')    AS first_name,
               nullif(btrim(s.middle_name), '')   AS middle_name,
               nullif(btrim(s.last_name), '')     AS last_name,
               nullif(btrim(s.name_suffix), '')   AS name_suffix,
               nullif(btrim(s.full_name_raw), '') AS full_name_raw,
               lower(nullif(btrim(s.email), ''))  AS email,
               nullif(btrim(s.email_raw), '')     AS email_raw,
               -- = '^\+[1-9][0-9]{6,14}$' (the CHECK), 4x cheaper than that bounded regex
               CASE WHEN s.phone_e164 ~ '^\+[1-9][0-9]*$' AND length(s.phone_e164) BETWEEN 8 AND 16
                    THEN s.phone_e164 END AS phone1,
               CASE WHEN s.phone2_e164 ~ '^\+[1-9][0-9]*$' AND length(s.phone2_e164) BETWEEN 8 AND 16
                    THEN s.phone2_e164 END AS phone2,
               nullif(btrim(s.phone_raw), '')     AS phone1_raw,
               nullif(btrim(s.phone2_raw), '')    AS phone2_raw,
               CASE WHEN s.zip5 ~ '^[0-9]{5}$' THEN s.zip5 END AS zip5,
               CASE WHEN s.zip4 ~ '^[0-9]{4}$' THEN s.zip4 END AS zip4,
               nullif(btrim(s.street), '')        AS street,
               nullif(btrim(s.street2), '')       AS street2,
               nullif(btrim(s.city), '')          AS city,
               CASE WHEN s.state ~ '^\s*[A-Za-z]{2}\s*$' THEN upper(btrim(s.state)) END AS state,
               nullif(btrim(s.address_raw), '')   AS address_raw
        FROM stg_person s
        WHERE s.batch_id = p_batch
          -- constant bounds, so that a chunk reads its range of the primary key only
          AND s.row_number BETWEEN coalesce(p_first_row, -9223372036854775808)
                               AND coalesce(p_last_row, 9223372036854775807)
        OFFSET 0  -- each cleaned value computed once, not again where the outer list uses it
    ) c;
    ANALYZE ups_rows;
    SELECT count(*) INTO v_rows FROM ups_rows;

    -- The persons each row was applied to in this call, and what it did, over all passes.
    CREATE TEMP TABLE ups_done (rn bigint NOT NULL, person_id bigint NOT NULL) ON COMMIT DROP;
    CREATE TEMP TABLE ups_actions (rn bigint NOT NULL, action text NOT NULL) ON COMMIT DROP;

    LOOP
        DROP TABLE IF EXISTS pg_temp.ups_hit, pg_temp.ups_group, pg_temp.ups_first,
                             pg_temp.ups_src, pg_temp.ups_base, pg_temp.ups_elig,
                             pg_temp.ups_change, pg_temp.ups_final, pg_temp.ups_phone,
                             pg_temp.ups_email, pg_temp.ups_address, pg_temp.ups_added,
                             pg_temp.ups_outcome, pg_temp.ups_cand;

        -- 2. Every row's person as the persons stand now: per key value, the lowest person id
        --    holding it. The first pass looks each distinct value of the call up once, with
        --    the same expressions as the persons indexes so that they serve (ups_k_*: the
        --    lowest holder before the call, NULL if none). They are index probes, hash and
        --    merge joins turned off for them: planned freely, a chunk's 50k values were
        --    hashed against a scan of every person, lower() on each, a cost that grew with
        --    the table (perf at 2.5M people: a quarter of the server's time). A subquery
        --    per value is no way out: min(id) turns into a walk of the primary key, so the
        --    re-looked-up values below take their min() over a fenced subquery (OFFSET 0),
        --    which can only probe the key index. Later passes re-match without the
        --    index probes: only the people this call inserted or updated (ups_touched, their
        --    key values now) can have gained or lost a value, so the lowest holder now is the
        --    lower of the holder before and the lowest touched person holding it, unless the
        --    holder before was touched and lost the value; only those values are looked up
        --    again. And only rows whose answer can differ from the last pass's are routed
        --    again (ups_cand): those holding a value whose holders the last pass changed
        --    (ups_moved), and those it made new people of (ups_regroup: their answer was
        --    "no one", which ups_done cannot hold). Any other row's answer is one ups_done holds.
        IF v_passes = 0 THEN
            PERFORM set_config('enable_hashjoin', 'off', true),
                    set_config('enable_mergejoin', 'off', true);
            CREATE TEMP TABLE ups_k_email ON COMMIT DROP AS
            SELECT k.email, min(p.id) AS person_id
            FROM (SELECT DISTINCT email FROM ups_rows WHERE email IS NOT NULL) k
            LEFT JOIN persons p ON lower(p.primary_email) = k.email AND p.primary_email IS NOT NULL
            GROUP BY k.email;
            CREATE TEMP TABLE ups_k_phone ON COMMIT DROP AS
            SELECT k.phone, min(p.id) AS person_id
            FROM (SELECT phone1 FROM ups_rows WHERE phone1 IS NOT NULL
                  UNION
                  SELECT phone2 FROM ups_rows WHERE phone2 IS NOT NULL) k (phone)
            LEFT JOIN persons p ON p.primary_phone_e164 = k.phone
            GROUP BY k.phone;
            CREATE TEMP TABLE ups_k_name_zip ON COMMIT DROP AS
            SELECT k.ll, k.lf, k.zip5, min(p.id) AS person_id
            FROM (SELECT DISTINCT ll, lf, zip5 FROM ups_rows
                  WHERE ll IS NOT NULL AND lf IS NOT NULL AND zip5 IS NOT NULL) k
            LEFT JOIN persons p
              ON lower(p.last_name) = k.ll AND lower(p.first_name) = k.lf AND p.zip5 = k.zip5
            GROUP BY k.ll, k.lf, k.zip5;
            PERFORM set_config('enable_hashjoin', v_hashjoin, true),
                    set_config('enable_mergejoin', v_mergejoin, true);
            ANALYZE ups_k_email, ups_k_phone, ups_k_name_zip;
            CREATE TEMP TABLE ups_touched (person_id bigint PRIMARY KEY, email text, phone text,
                                           ll text, lf text, zip5 char(5)) ON COMMIT DROP;
            CREATE TEMP TABLE ups_moved (email text, phone text, ll text, lf text, zip5 char(5))
                ON COMMIT DROP;
            CREATE TEMP TABLE ups_regroup (rn bigint NOT NULL) ON COMMIT DROP;
        END IF;

        CREATE TEMP TABLE ups_cand ON COMMIT DROP AS
        SELECT r.rn, r.email, r.phone1, r.phone2, r.ll, r.lf, r.zip5
        FROM ups_rows r
        WHERE v_passes > 0 AND r.has_key
          AND (r.rn IN (SELECT rn FROM ups_regroup)
               OR r.email IN (SELECT email FROM ups_moved)
               OR r.phone1 IN (SELECT phone FROM ups_moved)
               OR r.phone2 IN (SELECT phone FROM ups_moved)
               OR (r.ll, r.lf, r.zip5) IN (SELECT ll, lf, zip5 FROM ups_moved));
        ANALYZE ups_cand;

        -- Hash joins only: with the per-value subqueries of the re-match in its join inputs,
        -- the planner took a nested loop of every row against every value once a million
        -- people were stored (18 s for one chunk's pass at 4.5M people, 0.3 s hashed).
        PERFORM set_config('enable_nestloop', 'off', true);
        CREATE TEMP TABLE ups_hit ON COMMIT DROP AS
        WITH by_email AS (
            SELECT k.email,
                   CASE WHEN t.person_id IS NOT NULL AND t.email IS DISTINCT FROM k.email
                        THEN (SELECT min(h.id) FROM (
                                  SELECT p.id FROM persons p
                                  WHERE lower(p.primary_email) = k.email
                                    AND p.primary_email IS NOT NULL OFFSET 0) h)
                        ELSE least(k.person_id, n.person_id) END AS person_id
            FROM (SELECT * FROM ups_k_email
                  WHERE v_passes = 0 OR email IN (SELECT email FROM ups_cand)) k
            LEFT JOIN ups_touched t ON t.person_id = k.person_id
            LEFT JOIN (SELECT email, min(person_id) AS person_id FROM ups_touched
                       WHERE email IS NOT NULL GROUP BY email) n ON n.email = k.email
        ), by_phone AS (
            SELECT k.phone,
                   CASE WHEN t.person_id IS NOT NULL AND t.phone IS DISTINCT FROM k.phone
                        THEN (SELECT min(h.id) FROM (
                                  SELECT p.id FROM persons p
                                  WHERE p.primary_phone_e164 = k.phone OFFSET 0) h)
                        ELSE least(k.person_id, n.person_id) END AS person_id
            FROM (SELECT * FROM ups_k_phone
                  WHERE v_passes = 0
                     OR phone IN (SELECT phone1 FROM ups_cand UNION SELECT phone2 FROM ups_cand)) k
            LEFT JOIN ups_touched t ON t.person_id = k.person_id
            LEFT JOIN (SELECT phone, min(person_id) AS person_id FROM ups_touched
                       WHERE phone IS NOT NULL GROUP BY phone) n ON n.phone = k.phone
        ), by_name_zip AS (
            SELECT k.ll, k.lf, k.zip5,
                   CASE WHEN t.person_id IS NOT NULL
                             AND (t.ll, t.lf, t.zip5) IS DISTINCT FROM (k.ll, k.lf, k.zip5)
                        THEN (SELECT min(h.id) FROM (
                                  SELECT p.id FROM persons p
                                  WHERE lower(p.last_name) = k.ll AND lower(p.first_name) = k.lf
                                    AND p.zip5 = k.zip5 OFFSET 0) h)
                        ELSE least(k.person_id, n.person_id) END AS person_id
            FROM (SELECT * FROM ups_k_name_zip
                  WHERE v_passes = 0 OR (ll, lf, zip5) IN (SELECT ll, lf, zip5 FROM ups_cand)) k
            LEFT JOIN ups_touched t ON t.person_id = k.person_id
            LEFT JOIN (SELECT ll, lf, zip5, min(person_id) AS person_id FROM ups_touched
                       WHERE ll IS NOT NULL AND lf IS NOT NULL AND zip5 IS NOT NULL
                       GROUP BY ll, lf, zip5) n
              ON n.ll = k.ll AND n.lf = k.lf AND n.zip5 = k.zip5
        )
        SELECT r.rn,
               coalesce(e.person_id, p1.person_id, p2.person_id, n.person_id) AS person_id,
               CASE WHEN e.person_id IS NOT NULL THEN 'email'
                    WHEN coalesce(p1.person_id, p2.person_id) IS NOT NULL THEN 'phone'
                    WHEN n.person_id IS NOT NULL THEN 'name_zip' END AS reason
        FROM ups_rows r
        LEFT JOIN by_email e ON e.email = r.email
        LEFT JOIN by_phone p1 ON p1.phone = r.phone1
        LEFT JOIN by_phone p2 ON p2.phone = r.phone2
        LEFT JOIN by_name_zip n ON n.ll = r.ll AND n.lf = r.lf AND n.zip5 = r.zip5
        WHERE v_passes = 0 OR r.rn IN (SELECT rn FROM ups_cand);
        PERFORM set_config('enable_nestloop', v_nestloop, true);

        -- After a pass, only the rows a repeated call would route again stay: those now matching
        -- no one (they would be inserted) or a person they were not applied to yet. A row
        -- with no key at all can never be matched: it is inserted once per call, not per pass
        -- (ups_cand leaves it out after the first).
        IF v_passes > 0 THEN
            DELETE FROM ups_hit h
            USING ups_done d
            WHERE d.rn = h.rn AND d.person_id = h.person_id;
            SELECT count(*) INTO v_count FROM ups_hit;
            EXIT WHEN v_count = 0;
            IF v_passes = 5 THEN
                RAISE WARNING 'upsert_persons(%): % rows still move after 5 passes',
                    p_batch, v_count;
                EXIT;
            END IF;
        END IF;
        v_passes := v_passes + 1;
        ANALYZE ups_hit;

        -- 3. Every row with its target person. Unmatched rows are grouped (see the contract):
        --    first each one with the earliest row of each of its keys (hash aggregates; no
        --    sort of text keys), then its leader, in at most two hops (name+ZIP -> phone ->
        --    e-mail), each landing on a row that is the earliest of that key. New ids are
        --    drawn in leader row order, so that "lowest id" later means "earliest row" here.
        CREATE TEMP TABLE ups_group ON COMMIT DROP AS
        SELECT r.rn, r.email, r.phone, r.ll, r.lf, r.zip5
        FROM ups_rows r JOIN ups_hit h USING (rn)
        WHERE h.person_id IS NULL;
        ANALYZE ups_group;

        CREATE TEMP TABLE ups_first ON COMMIT DROP AS
        SELECT g.rn, g.email IS NOT NULL AS has_email, g.phone IS NOT NULL AS has_phone,
               fe.rn AS e_first, fp.rn AS p_first, fn.rn AS n_first
        FROM ups_group g
        LEFT JOIN (SELECT email, min(rn) AS rn FROM ups_group
                   WHERE email IS NOT NULL GROUP BY email) fe ON fe.email = g.email
        LEFT JOIN (SELECT phone, min(rn) AS rn FROM ups_group
                   WHERE phone IS NOT NULL GROUP BY phone) fp ON fp.phone = g.phone
        LEFT JOIN (SELECT ll, lf, zip5, min(rn) AS rn FROM ups_group
                   WHERE ll IS NOT NULL AND lf IS NOT NULL AND zip5 IS NOT NULL
                   GROUP BY ll, lf, zip5) fn
               ON fn.ll = g.ll AND fn.lf = g.lf AND fn.zip5 = g.zip5;
        ANALYZE ups_first;

        CREATE TEMP TABLE ups_src ON COMMIT DROP AS
        WITH hop AS (
            -- rows with an e-mail: its earliest row; with a phone only: the leader of the
            -- earliest row with that phone (the earliest of its e-mail if it has one).
            SELECT f.rn,
                   CASE WHEN f.has_email THEN f.e_first
                        WHEN f.has_phone THEN coalesce(q.e_first, q.rn) END AS leader
            FROM ups_first f
            LEFT JOIN ups_first q ON q.rn = f.p_first AND NOT f.has_email
        ), grouped AS (
            SELECT f.rn,
                   coalesce(h.leader, coalesce(hq.leader, f.n_first), f.rn) AS leader,
                   CASE WHEN f.has_email THEN 'email'
                        WHEN f.has_phone THEN 'phone'
                        WHEN f.n_first IS NOT NULL THEN 'name_zip' END AS reason
            FROM ups_first f
            JOIN hop h ON h.rn = f.rn
            LEFT JOIN hop hq ON hq.rn = f.n_first AND h.leader IS NULL
        ), new_ids AS (
            SELECT l.rn AS leader, nextval(pg_get_serial_sequence('persons', 'id')) AS person_id
            FROM (SELECT rn FROM grouped WHERE leader = rn ORDER BY rn) l
        ), assigned AS (
            SELECT g.rn, n.person_id, true AS is_new, g.rn = g.leader AS is_leader,
                   CASE WHEN g.rn <> g.leader THEN g.reason END AS reason
            FROM grouped g JOIN new_ids n ON n.leader = g.leader
            UNION ALL
            SELECT h.rn, h.person_id, false, false, h.reason
            FROM ups_hit h WHERE h.person_id IS NOT NULL
        )
        SELECT a.person_id, a.is_new, a.is_leader, a.reason, r.*
        FROM assigned a JOIN ups_rows r USING (rn);
        ANALYZE ups_src;
        INSERT INTO ups_done SELECT rn, person_id FROM ups_src;

        -- 4. The state each row updates: the stored person, or a new person's leader row.
        CREATE TEMP TABLE ups_base ON COMMIT DROP AS
        SELECT p.id AS person_id, false AS is_new, p.first_name, p.middle_name, p.last_name,
               p.name_suffix, p.full_name_raw, p.primary_email AS email,
               p.primary_phone_e164 AS phone, p.zip5, p.source_updated_at AS ts
        FROM persons p
        WHERE p.id IN (SELECT person_id FROM ups_src WHERE NOT is_new)
        UNION ALL
        SELECT person_id, true, first_name, middle_name, last_name, name_suffix, full_name_raw,
               email, phone, zip5, ts
        FROM ups_src WHERE is_leader;
        ALTER TABLE ups_base ADD PRIMARY KEY (person_id);
        ANALYZE ups_base;

        -- 5. The rows that may update their person: newer than the state before the batch.
        CREATE TEMP TABLE ups_elig ON COMMIT DROP AS
        SELECT s.rn, s.person_id, s.ts, s.first_name, s.middle_name, s.last_name, s.name_suffix,
               s.full_name_raw, s.email, s.phone, s.zip5
        FROM ups_src s JOIN ups_base b USING (person_id)
        WHERE NOT s.is_leader AND s.ts IS NOT NULL AND (b.ts IS NULL OR s.ts > b.ts);
        ANALYZE ups_elig;

        -- 6. What each of them changes when applied one by one in (ts, row_number) order: a
        --    field changes when the row has a value that differs from the last non-null value
        --    before it (an earlier eligible row's, else the state before). "The last non-null
        --    value before" is lag() within the rows where that field is not null. Only people
        --    with several eligible rows need the windows; the others compare with the base.
        CREATE TEMP TABLE ups_change ON COMMIT DROP AS
        WITH several AS (
            SELECT person_id FROM ups_elig GROUP BY person_id HAVING count(*) > 1
        ), prev AS (
            SELECT e.rn,
                   lag(e.first_name) OVER (PARTITION BY e.person_id, e.first_name IS NULL
                                           ORDER BY e.ts, e.rn) AS first_name,
                   lag(e.middle_name) OVER (PARTITION BY e.person_id, e.middle_name IS NULL
                                            ORDER BY e.ts, e.rn) AS middle_name,
                   lag(e.last_name) OVER (PARTITION BY e.person_id, e.last_name IS NULL
                                          ORDER BY e.ts, e.rn) AS last_name,
                   lag(e.name_suffix) OVER (PARTITION BY e.person_id, e.name_suffix IS NULL
                                            ORDER BY e.ts, e.rn) AS name_suffix,
                   lag(e.full_name_raw) OVER (PARTITION BY e.person_id, e.full_name_raw IS NULL
                                              ORDER BY e.ts, e.rn) AS full_name_raw,
                   lag(e.email) OVER (PARTITION BY e.person_id, e.email IS NULL
                                      ORDER BY e.ts, e.rn) AS email,
                   lag(e.phone) OVER (PARTITION BY e.person_id, e.phone IS NULL
                                      ORDER BY e.ts, e.rn) AS phone,
                   lag(e.zip5) OVER (PARTITION BY e.person_id, e.zip5 IS NULL
                                     ORDER BY e.ts, e.rn) AS zip5,
                   lag(e.ts) OVER (PARTITION BY e.person_id ORDER BY e.ts, e.rn) AS ts
            FROM ups_elig e JOIN several USING (person_id)
        )
        SELECT e.rn, e.person_id,
               array_remove(ARRAY[
                   CASE WHEN e.first_name <> coalesce(v.first_name, b.first_name, '')
                        THEN 'first_name' END,
                   CASE WHEN e.middle_name <> coalesce(v.middle_name, b.middle_name, '')
                        THEN 'middle_name' END,
                   CASE WHEN e.last_name <> coalesce(v.last_name, b.last_name, '')
                        THEN 'last_name' END,
                   CASE WHEN e.name_suffix <> coalesce(v.name_suffix, b.name_suffix, '')
                        THEN 'name_suffix' END,
                   CASE WHEN e.full_name_raw <> coalesce(v.full_name_raw, b.full_name_raw, '')
                        THEN 'full_name_raw' END,
                   CASE WHEN e.email <> coalesce(v.email, b.email, '')
                        THEN 'primary_email' END,
                   CASE WHEN e.phone <> coalesce(v.phone, b.phone, '')
                        THEN 'primary_phone_e164' END,
                   CASE WHEN e.zip5 IS DISTINCT FROM coalesce(v.zip5, b.zip5) AND e.zip5 IS NOT NULL
                        THEN 'zip5' END,
                   CASE WHEN e.ts IS DISTINCT FROM coalesce(v.ts, b.ts)
                        THEN 'source_updated_at' END
               ], NULL) AS fields
        FROM ups_elig e
        JOIN ups_base b USING (person_id)
        LEFT JOIN prev v USING (rn);

        -- 7. Each person's state after the batch: per field the newest non-null value of its
        --    eligible rows, else the state before (the result of the one-by-one application).
        CREATE TEMP TABLE ups_final ON COMMIT DROP AS
        SELECT b.person_id, b.is_new,
               coalesce(x.first_name, b.first_name) AS first_name,
               coalesce(x.middle_name, b.middle_name) AS middle_name,
               coalesce(x.last_name, b.last_name) AS last_name,
               coalesce(x.name_suffix, b.name_suffix) AS name_suffix,
               coalesce(x.full_name_raw, b.full_name_raw) AS full_name_raw,
               coalesce(x.email, b.email) AS email,
               coalesce(x.phone, b.phone) AS phone,
               coalesce(x.zip5, b.zip5) AS zip5,
               coalesce(x.ts, b.ts) AS ts
        FROM ups_base b
        LEFT JOIN (
            SELECT person_id,
                   (array_agg(first_name ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE first_name IS NOT NULL))[1] AS first_name,
                   (array_agg(middle_name ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE middle_name IS NOT NULL))[1] AS middle_name,
                   (array_agg(last_name ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE last_name IS NOT NULL))[1] AS last_name,
                   (array_agg(name_suffix ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE name_suffix IS NOT NULL))[1] AS name_suffix,
                   (array_agg(full_name_raw ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE full_name_raw IS NOT NULL))[1] AS full_name_raw,
                   (array_agg(email ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE email IS NOT NULL))[1] AS email,
                   (array_agg(phone ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE phone IS NOT NULL))[1] AS phone,
                   (array_agg(zip5 ORDER BY ts DESC, rn DESC)
                        FILTER (WHERE zip5 IS NOT NULL))[1] AS zip5,
                   max(ts) AS ts
            FROM ups_elig
            GROUP BY person_id
        ) x USING (person_id);
        ANALYZE ups_final;

        -- Every person a row written from here on names is one inserted below or a stored
        -- one, locked here (FOR KEY SHARE, the lock each per-row foreign-key check would
        -- take): so those checks are skipped, up to the lineage, where the role may (as
        -- promote_mortgage does, 0014_partner_speed.sql). The dedup queue triggers still fire.
        IF v_skip THEN
            PERFORM 1 FROM persons
            WHERE id IN (SELECT person_id FROM ups_base WHERE NOT is_new)
            ORDER BY id
            FOR KEY SHARE;
            PERFORM set_config('session_replication_role', 'replica', true);
        END IF;

        -- 8. New people, inserted once with their final state. Their child rows follow, so the
        --    foreign keys find them.
        INSERT INTO persons (id, first_name, middle_name, last_name, name_suffix, full_name_raw,
                             primary_email, primary_phone_e164, zip5, source_system,
                             source_updated_at, first_batch_id, last_batch_id)
        SELECT f.person_id, f.first_name, f.middle_name, f.last_name, f.name_suffix,
               f.full_name_raw, f.email, f.phone, f.zip5, s.source_system, f.ts, p_batch, p_batch
        FROM ups_final f JOIN ups_src s ON s.person_id = f.person_id AND s.is_leader
        WHERE f.is_new
        ORDER BY f.person_id;

        -- 9. Child values not yet stored, each credited to the earliest row carrying it. The
        --    anti-joins keep re-imports from paying for index insertions that would conflict;
        --    ON CONFLICT DO NOTHING stays as the guard for writers outside this function.
        CREATE TEMP TABLE ups_added (rn bigint NOT NULL, kind smallint NOT NULL) ON COMMIT DROP;

        CREATE TEMP TABLE ups_phone ON COMMIT DROP AS
        SELECT c.*, f.is_new,
               row_number() OVER (PARTITION BY c.person_id
                                  ORDER BY c.phone_e164 IS NOT DISTINCT FROM f.phone DESC,
                                           c.rn, c.slot) AS pick
        FROM (
            SELECT DISTINCT ON (person_id, phone_raw) person_id, phone_raw, phone_e164, rn, slot
            FROM (SELECT person_id, rn, 1 AS slot, coalesce(phone1_raw, phone1) AS phone_raw,
                         phone1 AS phone_e164
                  FROM ups_src
                  UNION ALL
                  SELECT person_id, rn, 2, coalesce(phone2_raw, phone2), phone2
                  FROM ups_src) v
            WHERE phone_raw IS NOT NULL
            ORDER BY person_id, phone_raw, rn, slot
        ) c
        JOIN ups_final f USING (person_id)
        WHERE f.is_new
           OR NOT EXISTS (SELECT 1 FROM phone_numbers n
                          WHERE n.person_id = c.person_id AND n.phone_raw = c.phone_raw);

        INSERT INTO phone_numbers (person_id, phone_raw, phone_e164, is_primary, source_batch_id)
        SELECT c.person_id, c.phone_raw, c.phone_e164,
               c.pick = 1 AND (c.is_new OR NOT EXISTS (
                   SELECT 1 FROM phone_numbers n
                   WHERE n.person_id = c.person_id AND n.is_primary)),
               p_batch
        FROM ups_phone c
        ORDER BY c.person_id, c.pick;
        INSERT INTO ups_added SELECT rn, 1 FROM ups_phone;

        CREATE TEMP TABLE ups_email ON COMMIT DROP AS
        SELECT c.*, f.is_new,
               row_number() OVER (PARTITION BY c.person_id
                                  ORDER BY lower(c.email) IS NOT DISTINCT FROM f.email DESC,
                                           c.is_valid DESC, c.rn) AS pick
        FROM (
            SELECT DISTINCT ON (person_id, lower(v.email)) person_id, v.email, v.is_valid, rn
            FROM ups_src,
                 LATERAL (SELECT coalesce(email, email_raw) AS email,
                                 email IS NOT NULL AS is_valid) v
            WHERE v.email IS NOT NULL
            ORDER BY person_id, lower(v.email), v.is_valid DESC, rn
        ) c
        JOIN ups_final f USING (person_id)
        WHERE f.is_new
           OR NOT EXISTS (SELECT 1 FROM email_addresses a
                          WHERE a.person_id = c.person_id AND lower(a.email) = lower(c.email));

        INSERT INTO email_addresses (person_id, email, is_valid, is_primary, source_batch_id)
        SELECT c.person_id, c.email, c.is_valid,
               c.pick = 1 AND c.is_valid AND (c.is_new OR NOT EXISTS (
                   SELECT 1 FROM email_addresses a
                   WHERE a.person_id = c.person_id AND a.is_primary)),
               p_batch
        FROM ups_email c
        ORDER BY c.person_id, c.pick;
        INSERT INTO ups_added SELECT rn, 2 FROM ups_email;

        -- addresses has no unique index: the same (street, zip) is recognized here.
        CREATE TEMP TABLE ups_address ON COMMIT DROP AS
        SELECT c.*, f.is_new,
               row_number() OVER (PARTITION BY c.person_id
                                  ORDER BY c.zip5 IS NOT DISTINCT FROM f.zip5 DESC,
                                           c.rn) AS pick
        FROM (
            SELECT DISTINCT ON (person_id, lower(street), zip5)
                   person_id, street, street2, city, state, zip5, zip4, address_raw, rn
            FROM ups_src
            WHERE coalesce(street, street2, city, state, zip5, zip4, address_raw) IS NOT NULL
            ORDER BY person_id, lower(street), zip5, rn
        ) c
        JOIN ups_final f USING (person_id)
        WHERE f.is_new
           OR NOT EXISTS (SELECT 1 FROM addresses a
                          WHERE a.person_id = c.person_id
                            AND lower(a.street) IS NOT DISTINCT FROM lower(c.street)
                            AND a.zip IS NOT DISTINCT FROM c.zip5);

        INSERT INTO addresses (person_id, street, street2, city, state, zip, zip4, address_raw,
                               is_primary, source_batch_id)
        SELECT c.person_id, c.street, c.street2, c.city, c.state, c.zip5, c.zip4, c.address_raw,
               c.pick = 1 AND (c.is_new OR NOT EXISTS (
                   SELECT 1 FROM addresses a WHERE a.person_id = c.person_id AND a.is_primary)),
               p_batch
        FROM ups_address c
        ORDER BY c.person_id, c.pick;
        INSERT INTO ups_added SELECT rn, 3 FROM ups_address;
        ANALYZE ups_added;

        -- 10. Existing people: the new state where a row changed it, and the batch that last
        --     touched them where a row changed a field or added a child row.
        UPDATE persons p
        SET first_name = f.first_name, middle_name = f.middle_name, last_name = f.last_name,
            name_suffix = f.name_suffix, full_name_raw = f.full_name_raw,
            primary_email = f.email, primary_phone_e164 = f.phone, zip5 = f.zip5,
            source_updated_at = f.ts, last_batch_id = p_batch, updated_at = now()
        FROM ups_final f
        WHERE p.id = f.person_id AND NOT f.is_new
          AND ((p.first_name, p.middle_name, p.last_name, p.name_suffix, p.full_name_raw,
                p.primary_email, p.primary_phone_e164, p.zip5, p.source_updated_at)
               IS DISTINCT FROM
               (f.first_name, f.middle_name, f.last_name, f.name_suffix, f.full_name_raw,
                f.email, f.phone, f.zip5, f.ts)
               OR f.person_id IN (SELECT s.person_id FROM ups_added a JOIN ups_src s USING (rn)));
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_touched := v_touched + v_count;

        -- 11. One lineage row per row that changed something.
        CREATE TEMP TABLE ups_outcome ON COMMIT DROP AS
        SELECT s.rn, s.person_id, s.source_key, s.reason,
               CASE WHEN s.is_leader THEN 'insert'
                    WHEN cardinality(c.fields) > 0 THEN 'update'
                    WHEN k.kinds IS NOT NULL THEN 'matched' END AS action,
               CASE WHEN s.is_leader THEN
                        array_remove(ARRAY[
                            CASE WHEN s.first_name IS NOT NULL THEN 'first_name' END,
                            CASE WHEN s.middle_name IS NOT NULL THEN 'middle_name' END,
                            CASE WHEN s.last_name IS NOT NULL THEN 'last_name' END,
                            CASE WHEN s.name_suffix IS NOT NULL THEN 'name_suffix' END,
                            CASE WHEN s.full_name_raw IS NOT NULL THEN 'full_name_raw' END,
                            CASE WHEN s.email IS NOT NULL THEN 'primary_email' END,
                            CASE WHEN s.phone IS NOT NULL THEN 'primary_phone_e164' END,
                            CASE WHEN s.zip5 IS NOT NULL THEN 'zip5' END,
                            CASE WHEN s.ts IS NOT NULL THEN 'source_updated_at' END], NULL)
                    ELSE coalesce(c.fields, '{}')
               END || coalesce(k.kinds, '{}') AS fields
        FROM ups_src s
        LEFT JOIN ups_change c USING (rn)
        LEFT JOIN (
            SELECT rn, array_agg(CASE kind WHEN 1 THEN 'phone_numbers'
                                           WHEN 2 THEN 'email_addresses'
                                           ELSE 'addresses' END ORDER BY kind) AS kinds
            FROM ups_added GROUP BY rn
        ) k USING (rn);

        INSERT INTO person_lineage (person_id, batch_id, source_file, source_row_number,
                                    source_key, action, fields, merge_reason)
        SELECT person_id, p_batch, v_file, rn, source_key, action, fields,
               CASE WHEN action <> 'insert' THEN reason END
        FROM ups_outcome
        WHERE action IS NOT NULL
        ORDER BY rn;
        IF v_skip THEN
            PERFORM set_config('session_replication_role', v_role, true);
        END IF;

        INSERT INTO ups_actions SELECT rn, action FROM ups_outcome WHERE action IS NOT NULL;

        -- The key values of the people this pass inserted or updated, as they are now; the
        -- values whose holders it changed (a new person's, a stored person's before and after
        -- where they differ); the rows it made new people of.
        DELETE FROM ups_touched t USING ups_final f WHERE t.person_id = f.person_id;
        INSERT INTO ups_touched
        SELECT person_id, lower(email), phone, lower(last_name), lower(first_name), zip5
        FROM ups_final;
        ANALYZE ups_touched;
        TRUNCATE ups_moved, ups_regroup;
        INSERT INTO ups_moved
        SELECT lower(f.email), f.phone, lower(f.last_name), lower(f.first_name), f.zip5
        FROM ups_final f JOIN ups_base b USING (person_id)
        WHERE f.is_new
           OR (lower(f.email), f.phone, lower(f.last_name), lower(f.first_name), f.zip5)
              IS DISTINCT FROM (lower(b.email), b.phone, lower(b.last_name), lower(b.first_name),
                                b.zip5)
        UNION ALL
        SELECT lower(b.email), b.phone, lower(b.last_name), lower(b.first_name), b.zip5
        FROM ups_final f JOIN ups_base b USING (person_id)
        WHERE NOT f.is_new
          AND (lower(f.email), f.phone, lower(f.last_name), lower(f.first_name), f.zip5)
              IS DISTINCT FROM (lower(b.email), b.phone, lower(b.last_name), lower(b.first_name),
                                b.zip5);
        INSERT INTO ups_regroup SELECT rn FROM ups_src WHERE is_new;
        ANALYZE ups_moved, ups_regroup;
    END LOOP;

    -- Each row counts once, by the strongest thing it did in any pass; inserted counts people.
    SELECT sum(inserts),
           count(*) FILTER (WHERE inserts = 0 AND updates > 0),
           count(*) FILTER (WHERE inserts = 0 AND updates = 0),
           v_rows - count(*)
    INTO v_inserted, v_updated, v_matched, v_unchanged
    FROM (SELECT count(*) FILTER (WHERE action = 'insert') AS inserts,
                 count(*) FILTER (WHERE action = 'update') AS updates
          FROM ups_actions GROUP BY rn) a;
    v_inserted := coalesce(v_inserted, 0);

    -- 12. The audit of the batch. A call that changed nothing adds no rows when the batch
    --     already has its audit, so that repeating a call changes no table.
    IF v_inserted + v_updated + v_matched > 0
       OR NOT EXISTS (SELECT 1 FROM import_audit_log
                      WHERE batch_id = p_batch AND operation IN ('INSERT', 'UPDATE')
                        AND details ->> 'what' = 'persons') THEN
        INSERT INTO import_audit_log (batch_id, operation, record_count, details)
        SELECT p_batch, op, n,
               jsonb_build_object('what', 'persons', 'rows', v_rows,
                                  'inserted', v_inserted, 'updated', v_updated,
                                  'matched', v_matched, 'unchanged', v_unchanged,
                                  'persons_updated', v_touched, 'passes', v_passes,
                                  'first_row', p_first_row, 'last_row', p_last_row)
        FROM (VALUES ('INSERT', v_inserted), ('UPDATE', v_updated)) AS a (op, n);
    END IF;

    RETURN QUERY SELECT v_inserted, v_updated, v_matched, v_unchanged;
END
$$;
