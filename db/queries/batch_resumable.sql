-- The unfinished batch of a source (same name and checksum), if a run stopped mid-way.
SELECT id FROM import_batches
WHERE filename = %(filename)s AND sha256 = %(sha256)s AND status IN ('PENDING', 'RUNNING')
ORDER BY id DESC
LIMIT 1
