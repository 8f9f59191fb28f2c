-- Retire the v1 reporting tables; nothing reads them since release 3.0.
-- pipeline: allow dropping-column, dropping-table

ALTER TABLE reports DROP COLUMN v1_payload;
DROP TABLE report_snapshots_v1;
ALTER TABLE reports RENAME COLUMN v2_payload TO payload;
