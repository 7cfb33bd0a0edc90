-- People a first load sent and changed since (tasks/first_load.py: FirstLoad._send_people):
-- deleted before they are COPYed again. The load runs with session_replication_role =
-- replica, so the foreign keys' ON DELETE CASCADE does not fire and their child rows stay.
DELETE FROM persons WHERE id = ANY (%(ids)s::bigint[])
