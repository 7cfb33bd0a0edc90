-- Report views: materialized, refreshed concurrently after ingestion
-- (refresh_report_views()), read by the dashboard and Prefect artifacts.
-- Each has a unique index, which REFRESH ... CONCURRENTLY requires.

CREATE MATERIALIZED VIEW report_partner_delivery AS
SELECT partner,
       mailed_on,
       count(*)                                          AS pieces,
       count(*) FILTER (WHERE delivered_on IS NOT NULL)  AS delivered,
       count(*) FILTER (WHERE status = 'undeliverable')  AS undeliverable,
       round(avg(delivered_on - mailed_on), 2)           AS avg_days_to_deliver
FROM mail_pieces
GROUP BY partner, mailed_on;
CREATE UNIQUE INDEX report_partner_delivery_key
    ON report_partner_delivery (partner, mailed_on);

CREATE MATERIALIZED VIEW report_ab_response AS
SELECT partner,
       coalesce(mailer_version, '?')                                        AS mailer_version,
       coalesce(piece_type, '?')                                            AS piece_type,
       count(*)                                                             AS pieces,
       count(*) FILTER (WHERE status IN ('responded', 'converted', 'handed_off')) AS responded,
       count(*) FILTER (WHERE status IN ('converted', 'handed_off'))        AS converted,
       count(*) FILTER (WHERE status = 'handed_off')                        AS handed_off
FROM mail_pieces
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX report_ab_response_key
    ON report_ab_response (partner, mailer_version, piece_type);

CREATE MATERIALIZED VIEW report_import_health AS
SELECT coalesce(partner, '-')        AS partner,
       source_type,
       created_at::date              AS landed_on,
       count(*)                      AS files,
       count(*) FILTER (WHERE status = 'REJECTED_DUPLICATE') AS duplicates,
       count(*) FILTER (WHERE status IN ('FAILED', 'QUARANTINED')) AS failed,
       coalesce(sum(row_count), 0)     AS rows_read,
       coalesce(sum(success_count), 0) AS rows_loaded,
       coalesce(sum(error_count), 0)   AS rows_rejected
FROM import_batches
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX report_import_health_key
    ON report_import_health (partner, source_type, landed_on);

-- Refresh every report view without blocking readers.
CREATE FUNCTION refresh_report_views() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT matviewname FROM pg_matviews
             WHERE schemaname = 'public' AND matviewname LIKE 'report\_%' LOOP
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v.matviewname);
    END LOOP;
END
$$;
GRANT SELECT ON report_partner_delivery, report_ab_response, report_import_health
    TO leadpipe_readonly;
