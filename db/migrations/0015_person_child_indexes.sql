-- The person_id indexes of phone_numbers and email_addresses repeat the leading column of
-- their unique (person_id, value) indexes, which serve every lookup by person (the foreign
-- keys' cascades included). Each cost an index insertion per child row of every import.
DROP INDEX phone_numbers_person;
DROP INDEX email_addresses_person;
