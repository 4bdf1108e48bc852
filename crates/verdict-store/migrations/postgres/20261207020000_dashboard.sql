-- The dashboard's money over time: ledger entries by when they were written.
CREATE INDEX ledger_entries_created ON ledger_entries (created_at);
