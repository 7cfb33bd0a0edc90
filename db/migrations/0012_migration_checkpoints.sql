-- Checkpoints of long imports (the full migration, uploads): the last source row
-- committed per batch, so that a killed run resumes where it stopped. A chunk's
-- rows, its findings, its upsert and its checkpoint commit together.
CREATE TABLE import_checkpoints (
    batch_id        bigint      PRIMARY KEY REFERENCES import_batches (id) ON DELETE CASCADE,
    last_row_number bigint      NOT NULL,
    rows_read       bigint      NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
