-- The corrections dataset (GET /v1/corrections, verdict export corrections) reads the reports
-- that carry a correction in the order they arrived, a page at a time from a key: an index of
-- those reports only, so that an export reads the dataset and not every report.
CREATE INDEX reports_corrections ON reports (received_at, task_id) WHERE correction IS NOT NULL;
