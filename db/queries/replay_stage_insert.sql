-- Replay: a chunk's re-checked rows not staged as they are (after replay_stage_delete) are
-- staged, and the runs of row numbers between first_row and last_row that hold only such
-- rows are returned (first, last): upsert_persons takes a range, and a staged row that did
-- not change must not be upserted again (a row with no key would insert a person anew).
WITH added AS (
    INSERT INTO stg_person
    SELECT n.* FROM replay_stg n
    WHERE NOT EXISTS (SELECT 1 FROM stg_person s
                      WHERE s.batch_id = n.batch_id AND s.row_number = n.row_number)
    ORDER BY n.row_number
    RETURNING row_number
), marked AS (
    SELECT row_number, true AS added FROM added
    UNION ALL
    SELECT row_number, false FROM stg_person
    WHERE batch_id = %(batch_id)s AND row_number BETWEEN %(first_row)s AND %(last_row)s
), runs AS (
    SELECT row_number, added,
           row_number() OVER (ORDER BY row_number)
             - row_number() OVER (PARTITION BY added ORDER BY row_number) AS run
    FROM marked
)
SELECT min(row_number), max(row_number)
FROM runs
WHERE added
GROUP BY run
ORDER BY 1
