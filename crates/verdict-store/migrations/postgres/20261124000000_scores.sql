-- As migrations/sqlite/20261124000000_scores.sql.
-- Evidence about solvers from verdicts (research/domain.md §4.2): trust-weighted sums of good
-- and bad evidence per provider and captcha type, per minute (the router's fast memory, kept two
-- days) and per hour (the published scores, kept eight weeks); per worker and day. Sums are
-- added to, never rewritten, so every node adds its reports to the same rows and ages them
-- when it reads.
CREATE TABLE provider_evidence (
    resolution   TEXT    NOT NULL CHECK (resolution IN ('minute', 'hour')),
    captcha_type TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    bucket       BIGINT  NOT NULL,
    good         DOUBLE PRECISION NOT NULL DEFAULT 0,
    bad          DOUBLE PRECISION NOT NULL DEFAULT 0,
    reports      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (resolution, captcha_type, provider, bucket)
);

CREATE TABLE worker_evidence (
    provider     TEXT    NOT NULL,
    worker       TEXT    NOT NULL,
    captcha_type TEXT    NOT NULL,
    day          BIGINT  NOT NULL,
    good         DOUBLE PRECISION NOT NULL DEFAULT 0,
    bad          DOUBLE PRECISION NOT NULL DEFAULT 0,
    reports      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, worker, captcha_type, day)
);

-- Workers an account confirmed a solution of (anti-captcha's "a correct report whitelists the
-- worker"), when the policy is on.
CREATE TABLE worker_whitelist (
    account_id BIGINT  NOT NULL REFERENCES accounts (id),
    provider   TEXT    NOT NULL,
    worker     TEXT    NOT NULL,
    since      BIGINT  NOT NULL,
    PRIMARY KEY (account_id, provider, worker)
);
CREATE INDEX worker_whitelist_worker ON worker_whitelist (provider, worker);
