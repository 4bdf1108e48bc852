-- Which screen lane's flag took a refund back, beside the sentence in `reason`: a client or
-- operator reading a task sees the lane without parsing prose. NULL for refunds and for
-- reversals written before. Expand only.
ALTER TABLE ledger_entries ADD COLUMN lane TEXT;
