-- Each duplicate's comparison with its golden record, score parts flat (jsonb is built in SQL).
CREATE TEMP TABLE dedup_dup (
    duplicate_id       bigint        NOT NULL,
    original_id        bigint        NOT NULL,
    match_score        numeric(5, 2) NOT NULL,
    match_reason       text          NOT NULL,
    tier               smallint,
    confidence         smallint,
    golden_rule        text,
    name               float8,
    email              float8,
    phone              float8,
    address            float8,
    first_name         text,
    name_distance      smallint,
    name_similarity    float8,
    address_similarity float8
) ON COMMIT DROP
