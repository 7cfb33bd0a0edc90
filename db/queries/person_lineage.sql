-- A person's lineage in the order it happened, for the seed's lineage JSON.
SELECT l.batch_id, coalesce(l.source_file, b.filename), l.created_at, l.action, l.fields,
       l.merge_reason, l.source_row_number, l.source_key, l.related_person_id
FROM person_lineage l
LEFT JOIN import_batches b ON b.id = l.batch_id
WHERE l.person_id = %(person_id)s
ORDER BY l.created_at, l.id
