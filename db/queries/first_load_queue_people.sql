-- A first load's new people, queued for dedup once, by id, as they are sent
-- (FirstLoad._send_people): their ids run from first_id to last_id (a first load numbers its
-- new people one after another and removes none; a changed one sent again is queued already).
INSERT INTO dedup_queue (person_id)
SELECT generate_series(%(first_id)s::bigint, %(last_id)s::bigint);
