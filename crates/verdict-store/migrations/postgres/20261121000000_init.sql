-- The same tables and columns as migrations/sqlite/20261121000000_init.sql (a test compares
-- them); PostgreSQL types. Times are milliseconds since the Unix epoch; money is integer
-- micro-units.

CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT    NOT NULL,
    trusted         BOOLEAN NOT NULL DEFAULT FALSE,
    -- Running sum of this account's ledger entries (a cache; the ledger is the record).
    balance_micros  BIGINT  NOT NULL DEFAULT 0,
    standing        TEXT    NOT NULL DEFAULT 'good',
    standing_until  BIGINT,
    standing_reason TEXT,
    created_at      BIGINT  NOT NULL
);

CREATE TABLE api_keys (
    key_hash   BYTEA  PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE tasks (
    id           TEXT   PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    captcha_type TEXT   NOT NULL,
    provider     TEXT   NOT NULL,
    worker       TEXT,
    answer       TEXT,
    cost_micros  BIGINT NOT NULL,
    completed_at BIGINT NOT NULL,
    ingested_at  BIGINT NOT NULL
);

CREATE INDEX tasks_account_completed ON tasks (account_id, completed_at);

-- One report per task: the first stands, whichever node received it.
CREATE TABLE reports (
    task_id       TEXT   PRIMARY KEY REFERENCES tasks (id),
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    kind          TEXT   NOT NULL,
    correction    TEXT,
    code          TEXT,
    message       TEXT,
    dialect       TEXT   NOT NULL,
    received_at   BIGINT NOT NULL,
    verdict       TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    -- TEXT, not JSONB: the evidence object reads back exactly as it was written.
    evidence      TEXT   NOT NULL,
    refund_micros BIGINT
);

CREATE INDEX reports_account_received ON reports (account_id, received_at);

CREATE TABLE ledger_entries (
    id              BIGSERIAL PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    task_id         TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    amount_micros   BIGINT NOT NULL,
    -- The same effect can never be written twice (e.g. refund:<task id>), whatever the node.
    idempotency_key TEXT   NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL
);

CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
