-- Re-check outcomes per account, family and hour: whether an account's reports are mostly false
-- is judged on the last 24 h of re-checks (research/domain.md §3.4), not on its whole record.
-- As migrations/sqlite/20261123000000_recheck_counts.sql.
ALTER TABLE activity ADD COLUMN rechecks_upheld BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activity ADD COLUMN rechecks_refuted BIGINT NOT NULL DEFAULT 0;
