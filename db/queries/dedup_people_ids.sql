-- The people in dedup_ids, in the dedup core's input shape (see dedup_people_all.sql).
COPY (
    SELECT p.id, p.first_name, p.middle_name, p.last_name,
           p.primary_email AS email, p.primary_phone_e164 AS phone_e164,
           a.street, a.city, a.state, coalesce(p.zip5, a.zip) AS zip5,
           (extract(epoch FROM p.source_updated_at) * 1000000)::bigint AS source_updated_at,
           p.manual_override, p.email_verified, p.phone_verified, p.is_original,
           p.golden_id
    FROM (SELECT DISTINCT person_id FROM dedup_ids) i
    JOIN persons p ON p.id = i.person_id
    LEFT JOIN LATERAL (
        SELECT street, city, state, zip
        FROM addresses
        WHERE person_id = p.id
        ORDER BY is_primary DESC, id DESC
        LIMIT 1
    ) a ON true
    ORDER BY p.id
) TO STDOUT (FORMAT csv)
