-- Task retention (`[retention] tasks`): a pass walks the tasks completed before its cut-off in
-- (completion, id) order, and asks of each whether the ledger names it. Expand only: indexes.
CREATE INDEX tasks_completed ON tasks (completed_at, id);
CREATE INDEX ledger_entries_task ON ledger_entries (task_id);
