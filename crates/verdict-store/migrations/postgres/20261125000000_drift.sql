-- The drift lane's cumulative sum per account and family (research/domain.md §3.3, CUSUM), with
-- the run it belongs to: when the rise began, and the tasks, reports and predicted reports since.
ALTER TABLE account_families
    ADD COLUMN drift_llr        DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN drift_since_hour BIGINT           NOT NULL DEFAULT 0,
    ADD COLUMN drift_tasks      BIGINT           NOT NULL DEFAULT 0,
    ADD COLUMN drift_reports    BIGINT           NOT NULL DEFAULT 0,
    ADD COLUMN drift_expected   DOUBLE PRECISION NOT NULL DEFAULT 0;
