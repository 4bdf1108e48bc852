-- GET /v1/reports across accounts, newest first: reports by the moment they arrived (the task
-- id breaks ties, so that a cursor names one place in the list).
CREATE INDEX reports_received ON reports (received_at, task_id);
