-- The pieces a batch put into production, for the print file, in record order.
SELECT m.tracking_code, coalesce(m.routing_code, ''), m.record_id,
       concat_ws(' ', p.first_name, p.middle_name, p.last_name, p.name_suffix),
       a.street, a.city, a.state, a.zip, a.zip4
FROM mail_pieces m
JOIN persons p ON p.id = m.person_id
LEFT JOIN addresses a ON a.person_id = p.id AND a.is_primary
WHERE m.batch_id = %(batch_id)s
ORDER BY m.tracking_code
