-- After loading people with explicit ids, new rows must get ids above them.
SELECT setval(pg_get_serial_sequence('persons', 'id'), greatest(max(id), 1)) FROM persons
