-- Every resolved person's sub-key, component and key digest, to find whose keys changed.
CREATE TEMP TABLE dedup_key_state (
    person_id    bigint NOT NULL,
    subkey       bigint NOT NULL,
    component_id bigint NOT NULL,
    digest       bigint NOT NULL
) ON COMMIT DROP
