-- The drift lane's cumulative sum per account and family (research/domain.md §3.3, CUSUM), with
-- the run it belongs to: when the rise began, and the tasks, reports and predicted reports since.
ALTER TABLE account_families ADD COLUMN drift_llr REAL NOT NULL DEFAULT 0;
ALTER TABLE account_families ADD COLUMN drift_since_hour INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_families ADD COLUMN drift_tasks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_families ADD COLUMN drift_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_families ADD COLUMN drift_expected REAL NOT NULL DEFAULT 0;
