-- Staging: one table per logical shape. Every source row is kept whole as
-- JSON (`raw`) beside the typed fields the promote functions read, keyed by
-- (batch, row number) so that re-staging a batch replaces, never doubles.

CREATE TABLE stg_mortgage (
    batch_id        bigint      NOT NULL REFERENCES import_batches (id) ON DELETE CASCADE,
    row_number      bigint      NOT NULL,
    partner         text        NOT NULL,
    record_id       text        NOT NULL,
    recording_date  date,
    borrower_raw    text        NOT NULL,
    first_name      text,
    middle_name     text,
    last_name       text,
    name_suffix     text,
    co_borrower     text,
    street          text        NOT NULL,
    city            text,
    state           text,
    zip5            char(5)     NOT NULL,
    zip4            char(4),
    county          text,
    loan_amount     numeric(14, 2),
    loan_type       text,
    lender          text,
    phone_raw       text,
    phone_e164      text,
    piece_type      text,
    mailer_version  text,
    tracking_code   char(20),
    routing_code    text,
    mail_date       date,
    raw             jsonb       NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);

CREATE TABLE stg_delivery (
    batch_id        bigint      NOT NULL REFERENCES import_batches (id) ON DELETE CASCADE,
    row_number      bigint      NOT NULL,
    partner         text        NOT NULL,
    tracking_code   char(20)    NOT NULL,
    routing_code    text,
    event_on        date        NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('delivered', 'undeliverable')),
    facility_zip    text,
    raw             jsonb       NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);

CREATE TABLE stg_person (
    batch_id        bigint      NOT NULL REFERENCES import_batches (id) ON DELETE CASCADE,
    row_number      bigint      NOT NULL,
    source_system   text        NOT NULL,
    source_key      text,
    first_name      text,
    middle_name     text,
    last_name       text,
    name_suffix     text,
    full_name_raw   text,
    email_raw       text,
    email           text,
    phone_raw       text,
    phone_e164      text,
    phone2_raw      text,
    phone2_e164     text,
    street          text,
    street2         text,
    city            text,
    state           text,
    zip5            char(5),
    zip4            char(4),
    address_raw     text,
    source_created_at timestamptz,
    source_updated_at timestamptz,
    raw             jsonb       NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);
