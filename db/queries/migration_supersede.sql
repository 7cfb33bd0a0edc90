-- `leadpipe migrate --no-resume`: a source's interrupted runs are given up, so it starts anew.
UPDATE import_batches SET status = 'FAILED', error_message = 'superseded by a new run'
WHERE filename = %(filename)s AND status IN ('PENDING', 'RUNNING')
