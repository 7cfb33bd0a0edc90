-- Partner promotion speed (issue 5). Same contracts as 0007/0009; measured on a
-- 250,000-row M15 file, about half of promote_mortgage's time was per-row
-- foreign-key checks and a quarter copying every staged column (raw JSON
-- included) into two temporary tables.
--
-- * One temporary table, holding only what the inserts read.
-- * The foreign keys of the rows these functions write are true by construction:
--   person ids come from the persons rows inserted just before, tracking codes
--   from the mail_pieces rows the same statement placed, and the batch row is
--   locked once (FOR KEY SHARE, the lock each per-row check would take). So the
--   per-row checks are skipped (session_replication_role = replica) for the
--   inserts into tables that have no trigger of their own, when the role may
--   set that parameter; otherwise, or when such a trigger exists, every check
--   runs as before. Unique, primary-key and CHECK constraints are not triggers
--   and always hold. Tables with their own triggers (persons and addresses feed
--   the dedup queue) are always written with every trigger firing.
-- * mail_pieces gets an index by batch, so a batch's piece count does not scan
--   every piece ever mailed; staging tables are not vacuumed after every insert.

CREATE INDEX IF NOT EXISTS mail_pieces_batch ON mail_pieces (batch_id);

-- Staging takes a file's rows in one transaction and is read back by batch key in the
-- same one: a vacuum after every large COPY (to set visibility bits no query uses) only
-- competes with the next file for the CPU. Deleted rows (replays) still trigger vacuums.
ALTER TABLE stg_mortgage SET (autovacuum_vacuum_insert_threshold = -1);
ALTER TABLE stg_delivery SET (autovacuum_vacuum_insert_threshold = -1);

-- Whether the per-row foreign-key checks on `p_tables` may be skipped: the role
-- may set session_replication_role and none of the tables has a trigger of its
-- own (one that replica mode would silence too).
CREATE OR REPLACE FUNCTION partner_checks_skippable(p_tables regclass[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT has_parameter_privilege('session_replication_role', 'SET')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = ANY (p_tables) AND NOT tgisinternal)
$$;

CREATE OR REPLACE FUNCTION promote_mortgage(p_batch bigint, p_mailer_id char(6), p_mailed_on date)
RETURNS TABLE (inserted bigint, skipped bigint, assigned bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_first_serial bigint := 1;
    v_to_assign bigint;
    v_filename text;
    v_role text := current_setting('session_replication_role');
    v_skip boolean := partner_checks_skippable(
        ARRAY['phone_numbers', 'person_lineage', 'mail_pieces', 'mail_piece_events']::regclass[]);
BEGIN
    SELECT filename INTO v_filename FROM import_batches WHERE id = p_batch FOR KEY SHARE;

    -- New rows only (first row of each record id), numbered among those that
    -- need a barcode, each with its person id.
    DROP TABLE IF EXISTS promote_rows;
    CREATE TEMP TABLE promote_rows ON COMMIT DROP AS
    SELECT n.*,
           nextval(pg_get_serial_sequence('persons', 'id')) AS person_id,
           CASE WHEN n.tracking_code IS NULL
                THEN row_number() OVER (PARTITION BY n.tracking_code IS NULL
                                        ORDER BY n.row_number) END AS k
    FROM (SELECT DISTINCT ON (s.partner, s.record_id)
                 s.row_number, s.partner, s.record_id, s.first_name, s.middle_name,
                 s.last_name, s.name_suffix, s.borrower_raw, s.phone_raw, s.phone_e164,
                 s.street, s.city, s.state, s.zip5, s.zip4, s.county, s.mailer_version,
                 s.piece_type, s.tracking_code, s.routing_code, s.mail_date,
                 concat_ws(', ', s.raw ->> 'street', s.raw ->> 'city', s.raw ->> 'state',
                           s.raw ->> 'zip') AS address_raw
          FROM stg_mortgage s
          WHERE s.batch_id = p_batch
            AND NOT EXISTS (SELECT 1 FROM mail_pieces m
                            WHERE m.partner = s.partner AND m.record_id = s.record_id)
            AND (s.tracking_code IS NULL
                 OR NOT EXISTS (SELECT 1 FROM mail_pieces m
                                WHERE m.tracking_code = s.tracking_code))
          ORDER BY s.partner, s.record_id, s.row_number) n;

    SELECT count(k) INTO v_to_assign FROM promote_rows;
    IF v_to_assign > 0 THEN
        v_first_serial := reserve_serials(p_mailer_id, v_to_assign);
    END IF;

    INSERT INTO persons (id, first_name, middle_name, last_name, name_suffix, full_name_raw,
                         primary_phone_e164, zip5, source_system, first_batch_id, last_batch_id)
    SELECT person_id, first_name, middle_name, last_name, name_suffix, borrower_raw,
           phone_e164, zip5, 'partner:' || partner, p_batch, p_batch
    FROM promote_rows;

    INSERT INTO addresses (person_id, street, city, state, zip, zip4, county, address_raw,
                           is_primary, source_batch_id)
    SELECT person_id, street, city, state, zip5, zip4, county, address_raw, true, p_batch
    FROM promote_rows;

    IF v_skip THEN
        PERFORM set_config('session_replication_role', 'replica', true);
    END IF;

    INSERT INTO phone_numbers (person_id, phone_raw, phone_e164, is_primary, source_batch_id)
    SELECT person_id, phone_raw, phone_e164, true, p_batch
    FROM promote_rows WHERE phone_raw IS NOT NULL AND btrim(phone_raw) <> '';

    INSERT INTO person_lineage (person_id, batch_id, source_file, source_row_number,
                                source_key, action, fields)
    SELECT person_id, p_batch, v_filename, row_number, partner || ':' || record_id,
           'insert', ARRAY['first_name', 'middle_name', 'last_name', 'phone', 'address']
    FROM promote_rows;

    WITH placed AS (
        INSERT INTO mail_pieces (tracking_code, routing_code, partner, record_id, person_id,
                                 mailer_version, piece_type, routing_zip, mailed_on, batch_id)
        SELECT coalesce(tracking_code,
                        '00270' || p_mailer_id || lpad((v_first_serial - 1 + k)::text, 9, '0')),
               nullif(CASE WHEN tracking_code IS NULL THEN zip5 || coalesce(zip4, '')
                           ELSE routing_code END, ''),
               partner, record_id, person_id, mailer_version, piece_type, zip5,
               coalesce(mail_date, p_mailed_on), p_batch
        FROM promote_rows
        ORDER BY row_number
        ON CONFLICT DO NOTHING
        RETURNING tracking_code, mailed_on
    )
    INSERT INTO mail_piece_events (tracking_code, from_status, to_status, event_type,
                                   occurred_on, batch_id)
    SELECT tracking_code, NULL, 'mailed', 'mailed', mailed_on, p_batch FROM placed;

    IF v_skip THEN
        PERFORM set_config('session_replication_role', v_role, true);
    END IF;

    RETURN QUERY
    SELECT (SELECT count(*) FROM mail_pieces WHERE batch_id = p_batch),
           (SELECT count(*) FROM stg_mortgage WHERE batch_id = p_batch)
             - (SELECT count(*) FROM mail_pieces WHERE batch_id = p_batch),
           v_to_assign;
END
$$;

-- apply_deliveries, same contract; the events it writes name pieces it just
-- read (or updated) and the batch it locked, so their per-row checks are
-- skipped under the same conditions as above.
CREATE OR REPLACE FUNCTION apply_deliveries(p_batch bigint)
RETURNS TABLE (applied bigint, ignored bigint, unmatched bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_role text := current_setting('session_replication_role');
    v_skip boolean := partner_checks_skippable(
        ARRAY['mail_pieces', 'mail_piece_events']::regclass[]);
BEGIN
    PERFORM 1 FROM import_batches WHERE id = p_batch FOR KEY SHARE;

    DROP TABLE IF EXISTS delivery_rows;
    CREATE TEMP TABLE delivery_rows ON COMMIT DROP AS
    SELECT s.row_number, s.tracking_code, s.event_on, s.outcome,
           m.status AS piece_status,
           row_number() OVER (PARTITION BY s.tracking_code ORDER BY s.row_number) AS nth
    FROM stg_delivery s
    JOIN mail_pieces m ON m.tracking_code = s.tracking_code AND m.partner = s.partner
    WHERE s.batch_id = p_batch
      AND NOT EXISTS (SELECT 1 FROM mail_piece_events e
                      WHERE e.batch_id = p_batch AND e.tracking_code = s.tracking_code);

    -- The pieces stay locked by the update (or by the check below) until commit.
    PERFORM 1 FROM mail_pieces m JOIN delivery_rows d ON m.tracking_code = d.tracking_code
    WHERE NOT (d.nth = 1 AND d.piece_status = 'mailed')
    FOR KEY SHARE OF m;

    IF v_skip THEN
        PERFORM set_config('session_replication_role', 'replica', true);
    END IF;

    WITH changed AS (
        UPDATE mail_pieces m
        SET status = d.outcome,
            delivered_on = CASE WHEN d.outcome = 'delivered' THEN d.event_on END,
            undeliverable_on = CASE WHEN d.outcome = 'undeliverable' THEN d.event_on END,
            updated_at = now()
        FROM delivery_rows d
        WHERE d.nth = 1 AND d.piece_status = 'mailed' AND m.tracking_code = d.tracking_code
        RETURNING m.tracking_code, d.outcome, d.event_on, d.row_number
    )
    INSERT INTO mail_piece_events (tracking_code, from_status, to_status, event_type,
                                   occurred_on, batch_id, details)
    SELECT tracking_code, 'mailed', outcome, outcome, event_on, p_batch,
           jsonb_build_object('row_number', row_number)
    FROM changed;

    INSERT INTO mail_piece_events (tracking_code, from_status, to_status, event_type,
                                   occurred_on, batch_id, details)
    SELECT d.tracking_code, m.status, m.status, 'confirmation_ignored', d.event_on, p_batch,
           jsonb_build_object(
               'row_number', d.row_number,
               'ignored_outcome', d.outcome,
               'ignored_date', d.event_on,
               'first_outcome', CASE WHEN m.delivered_on IS NOT NULL THEN 'delivered'
                                     ELSE 'undeliverable' END,
               'first_date', coalesce(m.delivered_on, m.undeliverable_on))
    FROM delivery_rows d
    JOIN mail_pieces m ON m.tracking_code = d.tracking_code
    WHERE NOT (d.nth = 1 AND d.piece_status = 'mailed');

    IF v_skip THEN
        PERFORM set_config('session_replication_role', v_role, true);
    END IF;

    RETURN QUERY
    SELECT (SELECT count(*) FROM mail_piece_events
            WHERE batch_id = p_batch AND event_type IN ('delivered', 'undeliverable')),
           (SELECT count(*) FROM mail_piece_events
            WHERE batch_id = p_batch AND event_type = 'confirmation_ignored'),
           (SELECT count(*) FROM stg_delivery s
            WHERE s.batch_id = p_batch
              AND NOT EXISTS (SELECT 1 FROM mail_pieces m
                              WHERE m.tracking_code = s.tracking_code
                                AND m.partner = s.partner));
END
$$;
