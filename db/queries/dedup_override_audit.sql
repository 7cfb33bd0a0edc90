INSERT INTO dedup_audit_log (job_id, action, original_person_id, duplicate_person_id,
                             merged_fields, actor)
VALUES (%(job_id)s, 'override', %(person_id)s, %(previous_golden)s, %(details)s, %(actor)s)
