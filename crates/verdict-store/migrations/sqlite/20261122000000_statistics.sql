-- Statistics for judging (SPEC §5 rule 6), re-checks and repeated ignore periods.

ALTER TABLE accounts ADD COLUMN ignore_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_ignored_at INTEGER;

-- An account's hourly counts per captcha family: tasks by completion hour, reports and
-- refunds by the hour they were received. Windows are short range sums over these.
CREATE TABLE activity (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    family     TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    tasks      INTEGER NOT NULL DEFAULT 0,
    incorrect  INTEGER NOT NULL DEFAULT 0,
    correct    INTEGER NOT NULL DEFAULT 0,
    refunds    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, family, hour)
) WITHOUT ROWID;

CREATE INDEX activity_by_hour ON activity (hour, family);

-- Per account and family: the baseline of its report rate relative to the cohort, and how its
-- re-checked reports turned out.
CREATE TABLE account_families (
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    family              TEXT    NOT NULL,
    baseline_reports    REAL    NOT NULL DEFAULT 0,
    baseline_expected   REAL    NOT NULL DEFAULT 0,
    baseline_hour       INTEGER,
    precision_confirmed REAL    NOT NULL DEFAULT 0,
    precision_refuted   REAL    NOT NULL DEFAULT 0,
    precision_at        INTEGER,
    PRIMARY KEY (account_id, family)
) WITHOUT ROWID;

-- The trusted cohort's prior per family, refitted hourly.
CREATE TABLE cohort (
    family    TEXT    PRIMARY KEY,
    a         REAL    NOT NULL,
    b         REAL    NOT NULL,
    cap_rate  REAL    NOT NULL,
    accounts  INTEGER NOT NULL,
    rate      REAL    NOT NULL,
    fitted_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The trusted cohort's hourly report rate, for accounts' expected counts.
CREATE TABLE cohort_hours (
    family    TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    tasks     INTEGER NOT NULL,
    incorrect INTEGER NOT NULL,
    PRIMARY KEY (family, hour)
) WITHOUT ROWID;

-- Reports held for a second solve.
CREATE TABLE rechecks (
    task_id       TEXT    PRIMARY KEY REFERENCES reports (task_id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    created_at    INTEGER NOT NULL,
    deadline      INTEGER NOT NULL,
    claimed_until INTEGER,
    resolved_at   INTEGER
);

CREATE INDEX rechecks_open ON rechecks (resolved_at, created_at);

-- Backfill from what is already recorded, so that an upgraded installation is judged on its history.
INSERT INTO activity (account_id, family, hour, tasks)
SELECT account_id,
       CASE WHEN captcha_type LIKE 'recaptcha%' THEN 'recaptcha' ELSE captcha_type END,
       completed_at / 3600000,
       COUNT(*)
FROM tasks
WHERE true
GROUP BY 1, 2, 3;

INSERT INTO activity (account_id, family, hour, incorrect, correct, refunds)
SELECT r.account_id,
       CASE WHEN t.captcha_type LIKE 'recaptcha%' THEN 'recaptcha' ELSE t.captcha_type END,
       r.received_at / 3600000,
       SUM(r.kind = 'incorrect'),
       SUM(r.kind = 'correct'),
       SUM(COALESCE(r.refund_micros, 0) > 0)
FROM reports r JOIN tasks t ON t.id = r.task_id
WHERE true
GROUP BY 1, 2, 3
ON CONFLICT (account_id, family, hour) DO UPDATE
    SET incorrect = excluded.incorrect, correct = excluded.correct, refunds = excluded.refunds;
