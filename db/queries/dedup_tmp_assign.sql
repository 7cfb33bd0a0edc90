-- The run's golden record for every person it resolved (NULL: the person is golden).
CREATE TEMP TABLE dedup_assign (person_id bigint NOT NULL, golden_id bigint) ON COMMIT DROP
