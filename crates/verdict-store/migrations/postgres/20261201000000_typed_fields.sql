-- Values judging and re-checks read back get columns of their own; `evidence` stays the audit
-- record the API shows. Expand only: nodes that do not know the columns keep working, and the
-- rows they write read back as before (trust 1, no re-check state) until they are upgraded.
ALTER TABLE reports ADD COLUMN trust_weight DOUBLE PRECISION NOT NULL DEFAULT 1.0;
ALTER TABLE reports ADD COLUMN recheck_suspect BOOLEAN;
ALTER TABLE reports ADD COLUMN recheck_solves TEXT;
-- Why a reversal took a refund back (NULL for refunds, and for reversals written before).
ALTER TABLE ledger_entries ADD COLUMN reason TEXT;

-- Reports recorded before: the same values, read from their evidence once.
UPDATE reports SET trust_weight = (evidence::jsonb ->> 'trust_weight')::DOUBLE PRECISION
WHERE jsonb_typeof(evidence::jsonb -> 'trust_weight') = 'number';

UPDATE reports SET
    recheck_suspect = (evidence::jsonb -> 'recheck' ->> 'why') IN ('ignored_standing', 'low_precision'),
    recheck_solves = COALESCE((evidence::jsonb -> 'recheck' -> 'answers')::TEXT, '[]')
WHERE jsonb_typeof(evidence::jsonb -> 'recheck' -> 'why') = 'string'
  AND (evidence::jsonb -> 'recheck' ->> 'why') NOT LIKE 'not sampled%';
