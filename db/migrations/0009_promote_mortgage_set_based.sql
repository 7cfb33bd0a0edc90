-- promote_mortgage, same contract, rewritten for large batches: one pass picks
-- the new rows (first row of each record id), numbers the ones that need a
-- barcode and allocates person ids, instead of row-by-row self-joins on an
-- unindexed temporary table.
CREATE OR REPLACE FUNCTION promote_mortgage(p_batch bigint, p_mailer_id char(6), p_mailed_on date)
RETURNS TABLE (inserted bigint, skipped bigint, assigned bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_first_serial bigint := 1;
    v_to_assign bigint;
BEGIN
    DROP TABLE IF EXISTS promote_new;
    CREATE TEMP TABLE promote_new ON COMMIT DROP AS
    SELECT DISTINCT ON (s.partner, s.record_id) s.*
    FROM stg_mortgage s
    WHERE s.batch_id = p_batch
      AND NOT EXISTS (SELECT 1 FROM mail_pieces m
                      WHERE m.partner = s.partner AND m.record_id = s.record_id)
      AND (s.tracking_code IS NULL
           OR NOT EXISTS (SELECT 1 FROM mail_pieces m WHERE m.tracking_code = s.tracking_code))
    ORDER BY s.partner, s.record_id, s.row_number;

    SELECT count(*) INTO v_to_assign FROM promote_new WHERE tracking_code IS NULL;
    IF v_to_assign > 0 THEN
        v_first_serial := reserve_serials(p_mailer_id, v_to_assign);
    END IF;

    DROP TABLE IF EXISTS promote_rows;
    CREATE TEMP TABLE promote_rows ON COMMIT DROP AS
    SELECT n.*,
           nextval(pg_get_serial_sequence('persons', 'id')) AS person_id,
           coalesce(n.tracking_code,
                    '00270' || p_mailer_id
                    || lpad((v_first_serial - 1 + row_number() OVER (
                                PARTITION BY n.tracking_code IS NULL ORDER BY n.row_number)
                            )::text, 9, '0')) AS final_code,
           CASE WHEN n.tracking_code IS NULL THEN n.zip5 || coalesce(n.zip4, '')
                ELSE n.routing_code END AS final_routing
    FROM promote_new n;

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
        SELECT final_code, nullif(final_routing, ''), partner, record_id, person_id,
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
