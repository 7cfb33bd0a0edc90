-- Every person in the dedup core's input shape (dedup_ray.INPUT_SCHEMA). Street, city and
-- state come from the primary address (else the latest); timestamps as epoch microseconds;
-- golden_id (not an input of the core) tells the write-back what is stored.
COPY (
    SELECT p.id, p.first_name, p.middle_name, p.last_name,
           p.primary_email AS email, p.primary_phone_e164 AS phone_e164,
           a.street, a.city, a.state, coalesce(p.zip5, a.zip) AS zip5,
           (extract(epoch FROM p.source_updated_at) * 1000000)::bigint AS source_updated_at,
           p.manual_override, p.email_verified, p.phone_verified, p.is_original,
           p.golden_id
    FROM persons p
    LEFT JOIN (
        SELECT DISTINCT ON (person_id) person_id, street, city, state, zip
        FROM addresses
        ORDER BY person_id, is_primary DESC, id DESC
    ) a ON a.person_id = p.id
    ORDER BY p.id
) TO STDOUT (FORMAT csv)
