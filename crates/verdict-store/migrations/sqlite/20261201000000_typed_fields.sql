-- Values judging and re-checks read back get columns of their own; `evidence` stays the audit
-- record the API shows. Expand only: nodes that do not know the columns keep working, and the
-- rows they write read back as before (trust 1, no re-check state) until they are upgraded.
ALTER TABLE reports ADD COLUMN trust_weight REAL NOT NULL DEFAULT 1.0;
ALTER TABLE reports ADD COLUMN recheck_suspect INTEGER;
ALTER TABLE reports ADD COLUMN recheck_solves TEXT;
-- Why a reversal took a refund back (NULL for refunds, and for reversals written before).
ALTER TABLE ledger_entries ADD COLUMN reason TEXT;

-- Reports recorded before: the same values, read from their evidence once.
UPDATE reports SET trust_weight = json_extract(evidence, '$.trust_weight')
WHERE json_type(evidence, '$.trust_weight') IN ('real', 'integer');

UPDATE reports SET
    recheck_suspect = json_extract(evidence, '$.recheck.why') IN ('ignored_standing', 'low_precision'),
    recheck_solves = COALESCE(json_extract(evidence, '$.recheck.answers'), '[]')
WHERE json_type(evidence, '$.recheck.why') = 'text'
  AND json_extract(evidence, '$.recheck.why') NOT LIKE 'not sampled%';
