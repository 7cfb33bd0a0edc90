INSERT INTO person_lineage (person_id, action, fields, merge_reason, related_person_id,
                            dedup_run_id)
VALUES (%(person_id)s, 'override', '{manual_override}', 'manual override',
        %(previous_golden)s, %(run_id)s)
