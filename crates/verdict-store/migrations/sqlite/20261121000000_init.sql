-- Times are milliseconds since the Unix epoch; money is integer micro-units.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    trusted         INTEGER NOT NULL DEFAULT 0,
    -- Running sum of this account's ledger entries (a cache; the ledger is the record).
    balance_micros  INTEGER NOT NULL DEFAULT 0,
    standing        TEXT    NOT NULL DEFAULT 'good',
    standing_until  INTEGER,
    standing_reason TEXT,
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_hash   BLOB    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE tasks (
    id           TEXT    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    captcha_type TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    worker       TEXT,
    answer       TEXT,
    cost_micros  INTEGER NOT NULL,
    completed_at INTEGER NOT NULL,
    ingested_at  INTEGER NOT NULL
);

CREATE INDEX tasks_account_completed ON tasks (account_id, completed_at);

-- One report per task: the first stands.
CREATE TABLE reports (
    task_id       TEXT    PRIMARY KEY REFERENCES tasks (id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    kind          TEXT    NOT NULL,
    correction    TEXT,
    code          TEXT,
    message       TEXT,
    dialect       TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    verdict       TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    evidence      TEXT    NOT NULL,
    refund_micros INTEGER
);

CREATE INDEX reports_account_received ON reports (account_id, received_at);

CREATE TABLE ledger_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    task_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    amount_micros   INTEGER NOT NULL,
    -- The same effect can never be written twice (e.g. refund:<task id>).
    idempotency_key TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);

CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
