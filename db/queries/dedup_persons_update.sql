-- Golden flags of the people whose golden record changed (and only theirs).
UPDATE persons p
SET is_original = c.new_golden IS NULL,
    golden_id   = c.new_golden,
    updated_at  = now()
FROM dedup_change c
WHERE p.id = c.person_id AND c.flags_change
