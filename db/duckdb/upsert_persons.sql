-- upsert_persons for a first load, in DuckDB (tasks/first_load.py): the statements of
-- db/functions/upsert_persons.sql, one section each, over the load's own person tables (in
-- DuckDB's memory, spilled to a temporary folder past its limit) instead of the stored ones. Same contract (db/migrations/0011_person_upsert.sql), same passes, same
-- results: tests/test_first_load.py compares the two table for table. What differs is only
-- what PostgreSQL needed to be fast (index probes, planner settings, checks skipped, temporary
-- tables analyzed): here every statement is a vectorized hash join or aggregate.
--
-- Parameters: $batch, $pass, $next_id (the first new person id), $file. tasks/first_load.py
-- runs the sections and the loop.

-- name: state
-- nullif(trim(x, ' '), '') that leaves alone the values with nothing to trim (nearly all:
-- staged values come cleaned), instead of copying each: trimming every text column was most
-- of the work of section rows (0.30 s against 0.11 s for 12 columns of 200,000 rows).
CREATE MACRO blank_null(x) AS
    CASE WHEN x <> '' AND NOT starts_with(x, ' ') AND NOT ends_with(x, ' ') THEN x
         ELSE nullif(trim(x, ' '), '') END;
CREATE TABLE persons (
    id bigint, first_name text, middle_name text, last_name text, name_suffix text,
    full_name_raw text, primary_email text, primary_phone_e164 text, zip5 text,
    source_system text, source_updated_at timestamptz, first_batch_id bigint,
    last_batch_id bigint, ll text, lf text
);
-- A call's child rows, sent to PostgreSQL when it ends (tasks/first_load.py); what later
-- calls need of them (the values stored per person, and whether one is primary) stays in
-- the *_keys tables (section kept).
CREATE TABLE phone_numbers (
    person_id bigint, phone_raw text, phone_e164 text, is_primary boolean,
    source_batch_id bigint, pass integer, pick bigint
);
CREATE TABLE email_addresses (
    person_id bigint, email text, is_valid boolean, is_primary boolean,
    source_batch_id bigint, pass integer, pick bigint
);
CREATE TABLE addresses (
    person_id bigint, street text, street2 text, city text, state text, zip text, zip4 text,
    address_raw text, is_primary boolean, source_batch_id bigint, pass integer, pick bigint
);
CREATE TABLE phone_keys (person_id bigint, phone_raw text, is_primary boolean);
CREATE TABLE email_keys (person_id bigint, email text, is_primary boolean);
CREATE TABLE address_keys (person_id bigint, street text, zip text, is_primary boolean);
CREATE TABLE person_lineage (
    person_id bigint, batch_id bigint, source_file text, source_row_number bigint,
    source_key text, action text, fields text, merge_reason text, pass integer
);
CREATE TABLE import_audit_log (
    batch_id bigint, operation text, record_count bigint, details json
);
-- The stored people a call changed (section update): once the people are being sent, each
-- call sends them again (tasks/first_load.py: FirstLoad._send_people).
CREATE TABLE changed_people (id bigint);

-- name: rows
CREATE OR REPLACE TABLE ups_rows AS
SELECT c.*, lower(c.first_name) AS lf, lower(c.last_name) AS ll,
       coalesce(c.phone1, c.phone2) AS phone,
       c.email IS NOT NULL OR c.phone1 IS NOT NULL OR c.phone2 IS NOT NULL
         OR (c.first_name IS NOT NULL AND c.last_name IS NOT NULL AND c.zip5 IS NOT NULL)
         AS has_key
FROM (
    SELECT s.row_number AS rn, s.source_system, s.source_key,
           s.source_updated_at::timestamptz AS ts,
           blank_null(s.first_name)    AS first_name,
           blank_null(s.middle_name)   AS middle_name,
           blank_null(s.last_name)     AS last_name,
           blank_null(s.name_suffix)   AS name_suffix,
           blank_null(s.full_name_raw) AS full_name_raw,
           lower(blank_null(s.email))  AS email,
           blank_null(s.email_raw)     AS email_raw,
           CASE WHEN regexp_full_match(s.phone_e164, '\+[1-9][0-9]*')
                     AND length(s.phone_e164) BETWEEN 8 AND 16
                THEN s.phone_e164 END AS phone1,
           CASE WHEN regexp_full_match(s.phone2_e164, '\+[1-9][0-9]*')
                     AND length(s.phone2_e164) BETWEEN 8 AND 16
                THEN s.phone2_e164 END AS phone2,
           blank_null(s.phone_raw)     AS phone1_raw,
           blank_null(s.phone2_raw)    AS phone2_raw,
           CASE WHEN regexp_full_match(s.zip5, '[0-9]{5}') THEN s.zip5 END AS zip5,
           CASE WHEN regexp_full_match(s.zip4, '[0-9]{4}') THEN s.zip4 END AS zip4,
           blank_null(s.street)        AS street,
           blank_null(s.street2)       AS street2,
           blank_null(s.city)          AS city,
           CASE WHEN regexp_full_match(s.state, '\s*[A-Za-z]{2}\s*')
                THEN upper(trim(s.state, ' ')) END AS state,
           blank_null(s.address_raw)   AS address_raw
    FROM chunk_in s
) c;

-- name: call_start
CREATE OR REPLACE TABLE ups_done (rn bigint, person_id bigint);
CREATE OR REPLACE TABLE ups_actions (rn bigint, action text);
CREATE OR REPLACE TABLE ups_touched (person_id bigint, email text, phone text, ll text,
                                     lf text, zip5 text);
CREATE OR REPLACE TABLE ups_moved (email text, phone text, ll text, lf text, zip5 text);
CREATE OR REPLACE TABLE ups_regroup (rn bigint);
CREATE OR REPLACE TABLE ups_k_email AS
SELECT k.email, min(p.id) AS person_id
FROM (SELECT DISTINCT email FROM ups_rows WHERE email IS NOT NULL) k
LEFT JOIN persons p ON p.primary_email = k.email
GROUP BY k.email;
CREATE OR REPLACE TABLE ups_k_phone AS
SELECT k.phone, min(p.id) AS person_id
FROM (SELECT phone1 FROM ups_rows WHERE phone1 IS NOT NULL
      UNION
      SELECT phone2 FROM ups_rows WHERE phone2 IS NOT NULL) k (phone)
LEFT JOIN persons p ON p.primary_phone_e164 = k.phone
GROUP BY k.phone;
CREATE OR REPLACE TABLE ups_k_name_zip AS
SELECT k.ll, k.lf, k.zip5, min(p.id) AS person_id
FROM (SELECT DISTINCT ll, lf, zip5 FROM ups_rows
      WHERE ll IS NOT NULL AND lf IS NOT NULL AND zip5 IS NOT NULL) k
LEFT JOIN persons p ON p.ll = k.ll AND p.lf = k.lf AND p.zip5 = k.zip5
GROUP BY k.ll, k.lf, k.zip5;

-- name: cand
CREATE OR REPLACE TABLE ups_cand AS
SELECT r.rn, r.email, r.phone1, r.phone2, r.ll, r.lf, r.zip5
FROM ups_rows r
WHERE r.has_key
  AND (r.rn IN (SELECT rn FROM ups_regroup)
       OR r.email IN (SELECT email FROM ups_moved)
       OR r.phone1 IN (SELECT phone FROM ups_moved)
       OR r.phone2 IN (SELECT phone FROM ups_moved)
       -- (a join of the rows, not EXISTS: DuckDB decorrelated that into a join on
       -- IS NOT DISTINCT FROM, several times slower)
       OR r.rn IN (SELECT n.rn FROM ups_rows n JOIN ups_moved m
                   ON m.ll = n.ll AND m.lf = n.lf AND m.zip5 = n.zip5));

-- name: hit_first
-- The first pass: nothing touched yet, so each key's holder is the one looked up before.
CREATE OR REPLACE TABLE ups_hit AS
SELECT r.rn,
       coalesce(e.person_id, p1.person_id, p2.person_id, n.person_id) AS person_id,
       CASE WHEN e.person_id IS NOT NULL THEN 'email'
            WHEN coalesce(p1.person_id, p2.person_id) IS NOT NULL THEN 'phone'
            WHEN n.person_id IS NOT NULL THEN 'name_zip' END AS reason
FROM ups_rows r
LEFT JOIN ups_k_email e ON e.email = r.email
LEFT JOIN ups_k_phone p1 ON p1.phone = r.phone1
LEFT JOIN ups_k_phone p2 ON p2.phone = r.phone2
LEFT JOIN ups_k_name_zip n ON n.ll = r.ll AND n.lf = r.lf AND n.zip5 = r.zip5;

-- name: hit
-- A later pass: only the candidate rows (ups_cand), against the people touched so far.
-- A value whose holder before the call was touched and lost it is looked up again: those
-- values first (few), then the people holding them, so that the stored people are probed,
-- never aggregated whole (as a subquery per value, decorrelated, would).
CREATE OR REPLACE TABLE ups_hit AS
WITH k_email AS (
    SELECT k.email, k.person_id, t.person_id IS NOT NULL AND t.email IS DISTINCT FROM k.email
           AS lost
    FROM ups_k_email k
    LEFT JOIN ups_touched t ON t.person_id = k.person_id
    WHERE k.email IN (SELECT email FROM ups_cand)
), k_phone AS (
    SELECT k.phone, k.person_id, t.person_id IS NOT NULL AND t.phone IS DISTINCT FROM k.phone
           AS lost
    FROM ups_k_phone k
    LEFT JOIN ups_touched t ON t.person_id = k.person_id
    WHERE k.phone IN (SELECT phone1 FROM ups_cand UNION SELECT phone2 FROM ups_cand)
), k_name_zip AS (
    SELECT k.ll, k.lf, k.zip5, k.person_id,
           t.person_id IS NOT NULL AND (t.ll IS DISTINCT FROM k.ll OR t.lf IS DISTINCT FROM k.lf
                                        OR t.zip5 IS DISTINCT FROM k.zip5) AS lost
    FROM ups_k_name_zip k
    SEMI JOIN ups_cand c ON c.ll = k.ll AND c.lf = k.lf AND c.zip5 = k.zip5
    LEFT JOIN ups_touched t ON t.person_id = k.person_id
), by_email AS (
    SELECT k.email,
           CASE WHEN k.lost THEN a.person_id ELSE least(k.person_id, n.person_id) END
           AS person_id
    FROM k_email k
    LEFT JOIN (SELECT email, min(person_id) AS person_id FROM ups_touched
               WHERE email IS NOT NULL GROUP BY email) n ON n.email = k.email
    LEFT JOIN (SELECT p.primary_email AS email, min(p.id) AS person_id
               FROM persons p JOIN k_email l ON l.lost AND l.email = p.primary_email
               GROUP BY p.primary_email) a ON a.email = k.email
), by_phone AS (
    SELECT k.phone,
           CASE WHEN k.lost THEN a.person_id ELSE least(k.person_id, n.person_id) END
           AS person_id
    FROM k_phone k
    LEFT JOIN (SELECT phone, min(person_id) AS person_id FROM ups_touched
               WHERE phone IS NOT NULL GROUP BY phone) n ON n.phone = k.phone
    LEFT JOIN (SELECT p.primary_phone_e164 AS phone, min(p.id) AS person_id
               FROM persons p JOIN k_phone l ON l.lost AND l.phone = p.primary_phone_e164
               GROUP BY p.primary_phone_e164) a ON a.phone = k.phone
), by_name_zip AS (
    SELECT k.ll, k.lf, k.zip5,
           CASE WHEN k.lost THEN a.person_id ELSE least(k.person_id, n.person_id) END
           AS person_id
    FROM k_name_zip k
    LEFT JOIN (SELECT ll, lf, zip5, min(person_id) AS person_id FROM ups_touched
               WHERE ll IS NOT NULL AND lf IS NOT NULL AND zip5 IS NOT NULL
               GROUP BY ll, lf, zip5) n
      ON n.ll = k.ll AND n.lf = k.lf AND n.zip5 = k.zip5
    LEFT JOIN (SELECT p.ll, p.lf, p.zip5, min(p.id) AS person_id
               FROM persons p
               JOIN k_name_zip l ON l.lost AND l.ll = p.ll AND l.lf = p.lf AND l.zip5 = p.zip5
               GROUP BY p.ll, p.lf, p.zip5) a
      ON a.ll = k.ll AND a.lf = k.lf AND a.zip5 = k.zip5
)
SELECT r.rn,
       coalesce(e.person_id, p1.person_id, p2.person_id, n.person_id) AS person_id,
       CASE WHEN e.person_id IS NOT NULL THEN 'email'
            WHEN coalesce(p1.person_id, p2.person_id) IS NOT NULL THEN 'phone'
            WHEN n.person_id IS NOT NULL THEN 'name_zip' END AS reason
FROM ups_cand r
LEFT JOIN by_email e ON e.email = r.email
LEFT JOIN by_phone p1 ON p1.phone = r.phone1
LEFT JOIN by_phone p2 ON p2.phone = r.phone2
LEFT JOIN by_name_zip n ON n.ll = r.ll AND n.lf = r.lf AND n.zip5 = r.zip5;

-- name: hit_settled
DELETE FROM ups_hit h
USING ups_done d
WHERE d.rn = h.rn AND d.person_id = h.person_id;

-- name: group
CREATE OR REPLACE TABLE ups_group AS
SELECT r.rn, r.email, r.phone, r.ll, r.lf, r.zip5
FROM ups_rows r JOIN ups_hit h USING (rn)
WHERE h.person_id IS NULL;

CREATE OR REPLACE TABLE ups_first AS
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

CREATE OR REPLACE TABLE ups_src AS
WITH hop AS (
    SELECT f.rn,
           CASE WHEN f.has_email THEN f.e_first
                WHEN f.has_phone THEN coalesce(q.e_first, q.rn) END AS leader
    FROM ups_first f
    -- (a condition on the outer side only, kept in the key: an equi-join stays a hash join)
    LEFT JOIN ups_first q ON q.rn = CASE WHEN NOT f.has_email THEN f.p_first END
), grouped AS (
    SELECT f.rn,
           coalesce(h.leader, coalesce(hq.leader, f.n_first), f.rn) AS leader,
           CASE WHEN f.has_email THEN 'email'
                WHEN f.has_phone THEN 'phone'
                WHEN f.n_first IS NOT NULL THEN 'name_zip' END AS reason
    FROM ups_first f
    JOIN hop h ON h.rn = f.rn
    LEFT JOIN hop hq ON hq.rn = CASE WHEN h.leader IS NULL THEN f.n_first END
), new_ids AS (
    SELECT rn AS leader, $next_id + row_number() OVER (ORDER BY rn) - 1 AS person_id
    FROM grouped WHERE leader = rn
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

INSERT INTO ups_done SELECT rn, person_id FROM ups_src;

-- name: final
-- The stored people's rows as they stand (their source_system and first_batch_id too, so
-- that section update needs no second read of persons), and the new people's first rows.
CREATE OR REPLACE TABLE ups_base AS
SELECT p.id AS person_id, false AS is_new, p.first_name, p.middle_name, p.last_name,
       p.name_suffix, p.full_name_raw, p.primary_email AS email,
       p.primary_phone_e164 AS phone, p.zip5, p.source_updated_at AS ts,
       p.source_system, p.first_batch_id
FROM persons p
WHERE p.id IN (SELECT person_id FROM ups_src WHERE NOT is_new)
UNION ALL
SELECT person_id, true, first_name, middle_name, last_name, name_suffix, full_name_raw,
       email, phone, zip5, ts, NULL, NULL
FROM ups_src WHERE is_leader;

CREATE OR REPLACE TABLE ups_elig AS
SELECT s.rn, s.person_id, s.ts, s.first_name, s.middle_name, s.last_name, s.name_suffix,
       s.full_name_raw, s.email, s.phone, s.zip5
FROM ups_src s JOIN ups_base b USING (person_id)
WHERE NOT s.is_leader AND s.ts IS NOT NULL AND (b.ts IS NULL OR s.ts > b.ts);

CREATE OR REPLACE TABLE ups_change AS
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
-- fields: the lineage's names, comma-separated (concat_ws skips the NULLs); cheaper than
-- lists while the passes build them, split into one (text[]) only when sent (out_*).
SELECT e.rn, e.person_id,
       concat_ws(',',
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
       ) AS fields
FROM ups_elig e
JOIN ups_base b USING (person_id)
LEFT JOIN prev v USING (rn);

CREATE OR REPLACE TABLE ups_final AS
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
           first(first_name ORDER BY ts DESC, rn DESC)
               FILTER (WHERE first_name IS NOT NULL) AS first_name,
           first(middle_name ORDER BY ts DESC, rn DESC)
               FILTER (WHERE middle_name IS NOT NULL) AS middle_name,
           first(last_name ORDER BY ts DESC, rn DESC)
               FILTER (WHERE last_name IS NOT NULL) AS last_name,
           first(name_suffix ORDER BY ts DESC, rn DESC)
               FILTER (WHERE name_suffix IS NOT NULL) AS name_suffix,
           first(full_name_raw ORDER BY ts DESC, rn DESC)
               FILTER (WHERE full_name_raw IS NOT NULL) AS full_name_raw,
           first(email ORDER BY ts DESC, rn DESC) FILTER (WHERE email IS NOT NULL) AS email,
           first(phone ORDER BY ts DESC, rn DESC) FILTER (WHERE phone IS NOT NULL) AS phone,
           first(zip5 ORDER BY ts DESC, rn DESC) FILTER (WHERE zip5 IS NOT NULL) AS zip5,
           max(ts) AS ts
    FROM ups_elig
    GROUP BY person_id
) x USING (person_id);

-- name: write
INSERT INTO persons
SELECT f.person_id, f.first_name, f.middle_name, f.last_name, f.name_suffix,
       f.full_name_raw, f.email, f.phone, f.zip5, s.source_system, f.ts, $batch, $batch,
       lower(f.last_name), lower(f.first_name)
FROM ups_final f JOIN ups_src s ON s.person_id = f.person_id AND s.is_leader
WHERE f.is_new;

CREATE OR REPLACE TABLE ups_added (rn bigint, kind smallint);

-- The child rows stored for the call's stored people: the anti-joins below probe these,
-- not the whole tables.
CREATE OR REPLACE TABLE ups_stored AS SELECT person_id FROM ups_final WHERE NOT is_new;
CREATE OR REPLACE TABLE ups_stored_phone AS
SELECT person_id, phone_raw, is_primary FROM phone_keys
WHERE person_id IN (SELECT person_id FROM ups_stored)
UNION ALL
SELECT person_id, phone_raw, is_primary FROM phone_numbers
WHERE person_id IN (SELECT person_id FROM ups_stored);
CREATE OR REPLACE TABLE ups_stored_email AS
SELECT person_id, email, is_primary FROM email_keys
WHERE person_id IN (SELECT person_id FROM ups_stored)
UNION ALL
SELECT person_id, lower(email), is_primary FROM email_addresses
WHERE person_id IN (SELECT person_id FROM ups_stored);
CREATE OR REPLACE TABLE ups_stored_address AS
SELECT person_id, street, zip, is_primary FROM address_keys
WHERE person_id IN (SELECT person_id FROM ups_stored)
UNION ALL
SELECT person_id, lower(street), zip, is_primary FROM addresses
WHERE person_id IN (SELECT person_id FROM ups_stored);

CREATE OR REPLACE TABLE ups_phone AS
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
   OR NOT EXISTS (SELECT 1 FROM ups_stored_phone n
                  WHERE n.person_id = c.person_id AND n.phone_raw = c.phone_raw);

INSERT INTO phone_numbers
SELECT c.person_id, c.phone_raw, c.phone_e164,
       c.pick = 1 AND (c.is_new OR NOT EXISTS (
           SELECT 1 FROM ups_stored_phone n
           WHERE n.person_id = c.person_id AND n.is_primary)),
       $batch, $pass, c.pick
FROM ups_phone c;
INSERT INTO ups_added SELECT rn, 1 FROM ups_phone;

CREATE OR REPLACE TABLE ups_email AS
SELECT c.*, f.is_new,
       row_number() OVER (PARTITION BY c.person_id
                          ORDER BY lower(c.email) IS NOT DISTINCT FROM f.email DESC,
                                   c.is_valid DESC, c.rn) AS pick
FROM (
    SELECT DISTINCT ON (person_id, lower(v.email)) person_id, v.email, v.is_valid, rn
    FROM (SELECT person_id, rn, coalesce(email, email_raw) AS email,
                 email IS NOT NULL AS is_valid
          FROM ups_src) v
    WHERE v.email IS NOT NULL
    ORDER BY person_id, lower(v.email), v.is_valid DESC, rn
) c
JOIN ups_final f USING (person_id)
WHERE f.is_new
   OR NOT EXISTS (SELECT 1 FROM ups_stored_email a
                  WHERE a.person_id = c.person_id AND a.email = lower(c.email));

INSERT INTO email_addresses
SELECT c.person_id, c.email, c.is_valid,
       c.pick = 1 AND c.is_valid AND (c.is_new OR NOT EXISTS (
           SELECT 1 FROM ups_stored_email a
           WHERE a.person_id = c.person_id AND a.is_primary)),
       $batch, $pass, c.pick
FROM ups_email c;
INSERT INTO ups_added SELECT rn, 2 FROM ups_email;

CREATE OR REPLACE TABLE ups_address AS
SELECT c.*, f.is_new,
       row_number() OVER (PARTITION BY c.person_id
                          ORDER BY c.zip5 IS NOT DISTINCT FROM f.zip5 DESC,
                                   c.rn) AS pick
FROM (
    -- DISTINCT ON (person_id, lower(street), zip5) ... ORDER BY rn, as the earliest row of
    -- each found on the keys alone and then joined: the distinct carried every column.
    SELECT s.person_id, s.street, s.street2, s.city, s.state, s.zip5, s.zip4, s.address_raw,
           s.rn
    FROM (SELECT min(rn) AS rn FROM ups_src
          WHERE coalesce(street, street2, city, state, zip5, zip4, address_raw) IS NOT NULL
          GROUP BY person_id, lower(street), zip5) d
    JOIN ups_src s USING (rn)
) c
JOIN ups_final f USING (person_id)
WHERE f.is_new
   OR NOT EXISTS (SELECT 1 FROM ups_stored_address a
                  WHERE a.person_id = c.person_id
                    AND a.street IS NOT DISTINCT FROM lower(c.street)
                    AND a.zip IS NOT DISTINCT FROM c.zip5);

INSERT INTO addresses
SELECT c.person_id, c.street, c.street2, c.city, c.state, c.zip5, c.zip4, c.address_raw,
       c.pick = 1 AND (c.is_new OR NOT EXISTS (
           SELECT 1 FROM ups_stored_address a
           WHERE a.person_id = c.person_id AND a.is_primary)),
       $batch, $pass, c.pick
FROM ups_address c;
INSERT INTO ups_added SELECT rn, 3 FROM ups_address;

-- name: update
-- As a delete and an insert of the changed people: DuckDB rewrites an updated row's text
-- columns column by column, several times slower. The stored rows are compared as ups_base
-- read them (section write adds only new people), not read again from persons: that read
-- went through every person's text columns once per pass.
CREATE OR REPLACE TABLE ups_updated AS
SELECT b.person_id AS id, f.first_name, f.middle_name, f.last_name, f.name_suffix,
       f.full_name_raw, f.email, f.phone, f.zip5, b.source_system, f.ts, b.first_batch_id,
       $batch AS last_batch_id, lower(f.last_name) AS ll, lower(f.first_name) AS lf
FROM ups_base b JOIN ups_final f USING (person_id)
WHERE NOT f.is_new
  AND (b.first_name IS DISTINCT FROM f.first_name
       OR b.middle_name IS DISTINCT FROM f.middle_name
       OR b.last_name IS DISTINCT FROM f.last_name
       OR b.name_suffix IS DISTINCT FROM f.name_suffix
       OR b.full_name_raw IS DISTINCT FROM f.full_name_raw
       OR b.email IS DISTINCT FROM f.email
       OR b.phone IS DISTINCT FROM f.phone
       OR b.zip5 IS DISTINCT FROM f.zip5
       OR b.ts IS DISTINCT FROM f.ts
       OR f.person_id IN (SELECT s.person_id FROM ups_added a JOIN ups_src s USING (rn)));
DELETE FROM persons WHERE id IN (SELECT id FROM ups_updated);
INSERT INTO persons SELECT * FROM ups_updated;
INSERT INTO changed_people SELECT id FROM ups_updated;
SELECT count(*) FROM ups_updated;

-- name: lineage
CREATE OR REPLACE TABLE ups_outcome AS
SELECT s.rn, s.person_id, s.source_key, s.reason,
       CASE WHEN s.is_leader THEN 'insert'
            WHEN c.fields <> '' THEN 'update'
            WHEN k.kinds IS NOT NULL THEN 'matched' END AS action,
       concat_ws(',',
           CASE WHEN s.is_leader THEN
                    nullif(concat_ws(',',
                        CASE WHEN s.first_name IS NOT NULL THEN 'first_name' END,
                        CASE WHEN s.middle_name IS NOT NULL THEN 'middle_name' END,
                        CASE WHEN s.last_name IS NOT NULL THEN 'last_name' END,
                        CASE WHEN s.name_suffix IS NOT NULL THEN 'name_suffix' END,
                        CASE WHEN s.full_name_raw IS NOT NULL THEN 'full_name_raw' END,
                        CASE WHEN s.email IS NOT NULL THEN 'primary_email' END,
                        CASE WHEN s.phone IS NOT NULL THEN 'primary_phone_e164' END,
                        CASE WHEN s.zip5 IS NOT NULL THEN 'zip5' END,
                        CASE WHEN s.ts IS NOT NULL THEN 'source_updated_at' END), '')
                ELSE nullif(c.fields, '') END,
           k.kinds) AS fields
FROM ups_src s
LEFT JOIN ups_change c USING (rn)
-- string_agg(<table of kind> ORDER BY kind), each table named as often as the row added to
-- it (a row's two phones: twice), counted rather than sorted: DuckDB sorts within every group
-- for an ordered aggregate, and that was most of this statement.
LEFT JOIN (
    SELECT rn, concat_ws(',',
               nullif(rtrim(repeat('phone_numbers,', count_if(kind = 1)::integer), ','), ''),
               nullif(rtrim(repeat('email_addresses,', count_if(kind = 2)::integer), ','), ''),
               nullif(rtrim(repeat('addresses,', count_if(kind = 3)::integer), ','), '')
           ) AS kinds
    FROM ups_added GROUP BY rn
) k USING (rn);

INSERT INTO person_lineage
SELECT person_id, $batch, $file, rn, source_key, action, fields,
       CASE WHEN action <> 'insert' THEN reason END, $pass
FROM ups_outcome
WHERE action IS NOT NULL;

INSERT INTO ups_actions SELECT rn, action FROM ups_outcome WHERE action IS NOT NULL;

-- name: moved
DELETE FROM ups_touched t USING ups_final f WHERE t.person_id = f.person_id;
INSERT INTO ups_touched
SELECT person_id, lower(email), phone, lower(last_name), lower(first_name), zip5
FROM ups_final;
DELETE FROM ups_moved;
DELETE FROM ups_regroup;
-- (the new people's keys, and the changed people's keys before and after: one join)
INSERT INTO ups_moved
WITH j AS MATERIALIZED (
    SELECT f.is_new, lower(f.email) AS fe, f.phone AS fp, lower(f.last_name) AS fl,
           lower(f.first_name) AS ff, f.zip5 AS fz, lower(b.email) AS be, b.phone AS bp,
           lower(b.last_name) AS bl, lower(b.first_name) AS bf, b.zip5 AS bz
    FROM ups_final f JOIN ups_base b USING (person_id)
    WHERE f.is_new
       OR lower(f.email) IS DISTINCT FROM lower(b.email) OR f.phone IS DISTINCT FROM b.phone
       OR lower(f.last_name) IS DISTINCT FROM lower(b.last_name)
       OR lower(f.first_name) IS DISTINCT FROM lower(b.first_name)
       OR f.zip5 IS DISTINCT FROM b.zip5
)
SELECT fe, fp, fl, ff, fz FROM j
UNION ALL
SELECT be, bp, bl, bf, bz FROM j WHERE NOT is_new;
INSERT INTO ups_regroup SELECT rn FROM ups_src WHERE is_new;

-- name: counts
SELECT coalesce(sum(inserts), 0)::bigint,
       count(*) FILTER (WHERE inserts = 0 AND updates > 0),
       count(*) FILTER (WHERE inserts = 0 AND updates = 0),
       (SELECT count(*) FROM ups_rows) - count(*)
FROM (SELECT count(*) FILTER (WHERE action = 'insert') AS inserts,
             count(*) FILTER (WHERE action = 'update') AS updates
      FROM ups_actions GROUP BY rn) a;

-- The rows as PostgreSQL gets them (tasks/first_load.py), in the order the calls of
-- upsert_persons insert them: the people by id, at the end; a call's child rows per pass by
-- person and pick, its lineage per pass by row (their ids, numbered in that order from the
-- table's next identity value, are added by tasks/first_load.py: a window for them here
-- sorted the rows a second time), its audit INSERT before UPDATE (the audit's ids are left
-- to PostgreSQL).

-- name: out_persons
-- The people not sent yet: ids from $sent on (new since the last send), and those changed
-- since.
SELECT id, first_name, middle_name, last_name, name_suffix, full_name_raw, primary_email,
       primary_phone_e164, zip5, source_system, source_updated_at, first_batch_id,
       last_batch_id
FROM persons
WHERE id >= $sent OR id IN (SELECT id FROM changed_people)
ORDER BY id;

-- name: resent_people
-- The people sent before and changed since: PostgreSQL deletes them before they come again.
SELECT DISTINCT id FROM changed_people WHERE id < $sent ORDER BY id;

-- name: people_sent
DELETE FROM changed_people;

-- name: out_phone_numbers
SELECT person_id, phone_raw, phone_e164, is_primary, source_batch_id
FROM phone_numbers ORDER BY pass, person_id, pick;

-- name: out_email_addresses
SELECT person_id, email, is_valid, is_primary, source_batch_id
FROM email_addresses ORDER BY pass, person_id, pick;

-- name: out_addresses
SELECT person_id, street, street2, city, state, zip, zip4, address_raw, is_primary,
       source_batch_id
FROM addresses ORDER BY pass, person_id, pick;

-- name: out_person_lineage
SELECT person_id, batch_id, source_file, source_row_number, source_key, action,
       CASE WHEN fields = '' THEN []::text[] ELSE string_split(fields, ',') END AS fields,
       merge_reason
FROM person_lineage ORDER BY pass, source_row_number;

-- name: out_import_audit_log
SELECT batch_id, operation, record_count, details::text AS details
FROM import_audit_log ORDER BY operation;

-- name: kept
INSERT INTO phone_keys SELECT person_id, phone_raw, is_primary FROM phone_numbers;
INSERT INTO email_keys SELECT person_id, lower(email), is_primary FROM email_addresses;
INSERT INTO address_keys SELECT person_id, lower(street), zip, is_primary FROM addresses;
DELETE FROM phone_numbers;
DELETE FROM email_addresses;
DELETE FROM addresses;
DELETE FROM person_lineage;
DELETE FROM import_audit_log;
