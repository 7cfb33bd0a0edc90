-- Survivorship values a golden view takes from one of its duplicates.
CREATE TEMP TABLE dedup_fields (
    golden_id      bigint NOT NULL,
    field          text   NOT NULL,
    value          text,
    from_person_id bigint NOT NULL,
    rule           text   NOT NULL
) ON COMMIT DROP
