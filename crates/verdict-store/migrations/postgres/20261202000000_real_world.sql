-- The last time the screen would have flagged an operator-trusted account and, the operator's
-- trust standing, did not: when, which lane, and its sentence. Expand only.
ALTER TABLE accounts ADD COLUMN screen_flag_at BIGINT;
ALTER TABLE accounts ADD COLUMN screen_flag_lane TEXT;
ALTER TABLE accounts ADD COLUMN screen_flag_reason TEXT;

-- What a family's cohort prior rests on: `fitted` on trusted accounts, `pooled_trusted`,
-- `pooled_good_standing`, or the `default`. NULL (rows written before): fitted when it names
-- accounts, else the default.
ALTER TABLE cohort ADD COLUMN basis TEXT;

-- Silence as evidence (docs/scoring.md): each task keeps the silence weight its account had
-- when it was ingested; solver buckets add the weights of their tasks as `exposure`, and the
-- weights their reports took back as `taken`.
ALTER TABLE tasks ADD COLUMN silence_weight DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE provider_evidence ADD COLUMN exposure DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE provider_evidence ADD COLUMN taken DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE worker_evidence ADD COLUMN exposure DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE worker_evidence ADD COLUMN taken DOUBLE PRECISION NOT NULL DEFAULT 0;

-- How long after completion reports arrive, per family: a histogram of report lags.
CREATE TABLE report_lags (
    family  TEXT     NOT NULL,
    bucket  SMALLINT NOT NULL,
    reports BIGINT   NOT NULL DEFAULT 0,
    PRIMARY KEY (family, bucket)
);
