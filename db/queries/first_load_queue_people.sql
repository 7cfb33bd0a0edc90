-- Every person of a first load, queued for dedup (their ids run from first_id to last_id:
-- a first load numbers its new people one after another and removes none).
INSERT INTO dedup_queue (person_id)
SELECT generate_series(%(first_id)s::bigint, %(last_id)s::bigint);
