-- People whose band keys are rewritten, packed (person_id int8 per row, big-endian).
SELECT string_agg(int8send(person_id), ''::bytea ORDER BY person_id)
FROM dedup_key_change
WHERE rekey
