-- The same tables and columns as migrations/sqlite/20261122000000_statistics.sql (a test
-- compares them); PostgreSQL types. Statistics for judging (SPEC §5 rule 6), re-checks and
-- repeated ignore periods.

ALTER TABLE accounts ADD COLUMN ignore_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_ignored_at BIGINT;

-- An account's hourly counts per captcha family: tasks by completion hour, reports and
-- refunds by the hour they were received. Windows are short range sums over these.
CREATE TABLE activity (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    family     TEXT   NOT NULL,
    hour       BIGINT NOT NULL,
    tasks      BIGINT NOT NULL DEFAULT 0,
    incorrect  BIGINT NOT NULL DEFAULT 0,
    correct    BIGINT NOT NULL DEFAULT 0,
    refunds    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, family, hour)
);

CREATE INDEX activity_by_hour ON activity (hour, family);

-- Per account and family: the baseline of its report rate relative to the cohort, and how its
-- re-checked reports turned out.
CREATE TABLE account_families (
    account_id          BIGINT           NOT NULL REFERENCES accounts (id),
    family              TEXT             NOT NULL,
    baseline_reports    DOUBLE PRECISION NOT NULL DEFAULT 0,
    baseline_expected   DOUBLE PRECISION NOT NULL DEFAULT 0,
    baseline_hour       BIGINT,
    precision_confirmed DOUBLE PRECISION NOT NULL DEFAULT 0,
    precision_refuted   DOUBLE PRECISION NOT NULL DEFAULT 0,
    precision_at        BIGINT,
    PRIMARY KEY (account_id, family)
);

-- The trusted cohort's prior per family, refitted hourly (by any node; refits of the same data
-- agree).
CREATE TABLE cohort (
    family    TEXT             PRIMARY KEY,
    a         DOUBLE PRECISION NOT NULL,
    b         DOUBLE PRECISION NOT NULL,
    cap_rate  DOUBLE PRECISION NOT NULL,
    accounts  INTEGER          NOT NULL,
    rate      DOUBLE PRECISION NOT NULL,
    fitted_at BIGINT           NOT NULL
);

-- The trusted cohort's hourly report rate, for accounts' expected counts.
CREATE TABLE cohort_hours (
    family    TEXT   NOT NULL,
    hour      BIGINT NOT NULL,
    tasks     BIGINT NOT NULL,
    incorrect BIGINT NOT NULL,
    PRIMARY KEY (family, hour)
);

-- Reports held for a second solve. A claim is a lease (claimed_until), taken by whichever node
-- hands the task out.
CREATE TABLE rechecks (
    task_id       TEXT   PRIMARY KEY REFERENCES reports (task_id),
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    created_at    BIGINT NOT NULL,
    deadline      BIGINT NOT NULL,
    claimed_until BIGINT,
    resolved_at   BIGINT
);

CREATE INDEX rechecks_open ON rechecks (resolved_at, created_at);

-- Backfill from what is already recorded, so that an upgraded installation is judged on its
-- history. Hours truncate as SQLite's integer division does (all times are after 1970).
INSERT INTO activity (account_id, family, hour, tasks)
SELECT account_id,
       CASE WHEN captcha_type LIKE 'recaptcha%' THEN 'recaptcha' ELSE captcha_type END,
       completed_at / 3600000,
       COUNT(*)
FROM tasks
GROUP BY 1, 2, 3;

INSERT INTO activity (account_id, family, hour, incorrect, correct, refunds)
SELECT r.account_id,
       CASE WHEN t.captcha_type LIKE 'recaptcha%' THEN 'recaptcha' ELSE t.captcha_type END,
       r.received_at / 3600000,
       COUNT(*) FILTER (WHERE r.kind = 'incorrect'),
       COUNT(*) FILTER (WHERE r.kind = 'correct'),
       COUNT(*) FILTER (WHERE COALESCE(r.refund_micros, 0) > 0)
FROM reports r JOIN tasks t ON t.id = r.task_id
GROUP BY 1, 2, 3
ON CONFLICT (account_id, family, hour) DO UPDATE
    SET incorrect = excluded.incorrect, correct = excluded.correct, refunds = excluded.refunds;
