-- Partner data path, in the database so that every entry path behaves the same:
-- one function promotes staged mortgage rows of any partner to people and mail
-- pieces; one applies delivery confirmations (partner-filtered, first wins).

-- Serial numbers of the barcodes we assign at mail production, per mailer id.
CREATE TABLE mailer_serials (
    mailer_id   char(6) PRIMARY KEY CHECK (mailer_id ~ '^[0-8][0-9]{5}$'),
    last_serial bigint  NOT NULL DEFAULT 0 CHECK (last_serial BETWEEN 0 AND 999999999)
);

-- Reserve `n` consecutive serials for a mailer id; returns the first one.
-- The row lock serializes concurrent callers, so no serial is handed out twice.
CREATE FUNCTION reserve_serials(p_mailer_id char(6), p_count bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
BEGIN
    INSERT INTO mailer_serials (mailer_id) VALUES (p_mailer_id) ON CONFLICT DO NOTHING;
    UPDATE mailer_serials SET last_serial = last_serial + p_count
    WHERE mailer_id = p_mailer_id
    RETURNING last_serial INTO v_last;
    RETURN v_last - p_count + 1;
END
$$;

-- Promote one batch of staged mortgage rows (any partner) to persons and mail
-- pieces. A row whose (partner, record_id) or tracking code is already a piece
-- is skipped, so re-running a batch or a re-sent file changes nothing. Rows
-- without a barcode get one here: barcode id 00, service type 270, the
-- partner's mailer id and the next serials, in row order.
CREATE FUNCTION promote_mortgage(p_batch bigint, p_mailer_id char(6), p_mailed_on date)
RETURNS TABLE (inserted bigint, skipped bigint, assigned bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_first_serial bigint;
    v_to_assign bigint;
BEGIN
    DROP TABLE IF EXISTS promote_rows;
    CREATE TEMP TABLE promote_rows ON COMMIT DROP AS
    SELECT s.*, NULL::bigint AS person_id, s.tracking_code AS final_code,
           row_number() OVER (ORDER BY s.row_number) AS seq
    FROM stg_mortgage s
    WHERE s.batch_id = p_batch
      AND NOT EXISTS (SELECT 1 FROM mail_pieces m
                      WHERE m.partner = s.partner AND m.record_id = s.record_id)
      AND (s.tracking_code IS NULL
           OR NOT EXISTS (SELECT 1 FROM mail_pieces m WHERE m.tracking_code = s.tracking_code));

    -- A record id twice in one file is one piece: the first row wins.
    DELETE FROM promote_rows p
    WHERE EXISTS (SELECT 1 FROM promote_rows q
                  WHERE q.partner = p.partner AND q.record_id = p.record_id
                    AND q.row_number < p.row_number);

    SELECT count(*) INTO v_to_assign FROM promote_rows WHERE final_code IS NULL;
    IF v_to_assign > 0 THEN
        v_first_serial := reserve_serials(p_mailer_id, v_to_assign);
        UPDATE promote_rows p
        SET final_code = '00270' || p_mailer_id || lpad((v_first_serial + n.k - 1)::text, 9, '0'),
            routing_code = coalesce(p.routing_code, p.zip5 || coalesce(p.zip4, ''))
        FROM (SELECT row_number, row_number() OVER (ORDER BY row_number) AS k
              FROM promote_rows WHERE final_code IS NULL) n
        WHERE p.row_number = n.row_number;
    END IF;

    UPDATE promote_rows SET person_id = nextval(pg_get_serial_sequence('persons', 'id'));

    INSERT INTO persons (id, first_name, middle_name, last_name, name_suffix, full_name_raw,
                         primary_phone_e164, zip5, source_system, first_batch_id, last_batch_id)
    SELECT person_id, first_name, middle_name, last_name, name_suffix, borrower_raw,
           phone_e164, zip5, 'partner:' || partner, p_batch, p_batch
    FROM promote_rows;

    INSERT INTO phone_numbers (person_id, phone_raw, phone_e164, is_primary, source_batch_id)
    SELECT person_id, phone_raw, phone_e164, true, p_batch
    FROM promote_rows WHERE phone_raw IS NOT NULL AND btrim(phone_raw) <> '';

    INSERT INTO addresses (person_id, street, city, state, zip, zip4, county, address_raw,
                           is_primary, source_batch_id)
    SELECT person_id, street, city, state, zip5, zip4, county,
           concat_ws(', ', raw ->> 'street', raw ->> 'city', raw ->> 'state', raw ->> 'zip'),
           true, p_batch
    FROM promote_rows;

    INSERT INTO person_lineage (person_id, batch_id, source_file, source_row_number,
                                source_key, action, fields)
    SELECT p.person_id, p_batch, b.filename, p.row_number, p.partner || ':' || p.record_id,
           'insert', ARRAY['first_name', 'middle_name', 'last_name', 'phone', 'address']
    FROM promote_rows p JOIN import_batches b ON b.id = p_batch;

    WITH placed AS (
        INSERT INTO mail_pieces (tracking_code, routing_code, partner, record_id, person_id,
                                 mailer_version, piece_type, routing_zip, mailed_on, batch_id)
        SELECT final_code, nullif(routing_code, ''), partner, record_id, person_id,
               mailer_version, piece_type, zip5, coalesce(mail_date, p_mailed_on), p_batch
        FROM promote_rows
        ORDER BY row_number
        ON CONFLICT DO NOTHING
        RETURNING tracking_code, mailed_on
    )
    INSERT INTO mail_piece_events (tracking_code, from_status, to_status, event_type,
                                   occurred_on, batch_id)
    SELECT tracking_code, NULL, 'mailed', 'mailed', mailed_on, p_batch FROM placed;

    RETURN QUERY
    SELECT (SELECT count(*) FROM mail_pieces WHERE batch_id = p_batch),
           (SELECT count(*) FROM stg_mortgage WHERE batch_id = p_batch)
             - (SELECT count(*) FROM mail_pieces WHERE batch_id = p_batch),
           v_to_assign;
END
$$;

-- Apply one batch of staged delivery confirmations. Only pieces of the file's
-- partner are touched. The first confirmation of a piece wins; any later one
-- (another file, or a second row in the same file) is recorded as
-- `confirmation_ignored` with both dates. Re-applying a batch changes nothing.
CREATE FUNCTION apply_deliveries(p_batch bigint)
RETURNS TABLE (applied bigint, ignored bigint, unmatched bigint)
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS delivery_rows;
    CREATE TEMP TABLE delivery_rows ON COMMIT DROP AS
    SELECT s.*, m.status AS piece_status, m.delivered_on, m.undeliverable_on,
           row_number() OVER (PARTITION BY s.tracking_code ORDER BY s.row_number) AS nth
    FROM stg_delivery s
    JOIN mail_pieces m ON m.tracking_code = s.tracking_code AND m.partner = s.partner
    WHERE s.batch_id = p_batch
      AND NOT EXISTS (SELECT 1 FROM mail_piece_events e
                      WHERE e.batch_id = p_batch AND e.tracking_code = s.tracking_code);

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
