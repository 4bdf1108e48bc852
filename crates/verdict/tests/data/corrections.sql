-- A bulk load of corrections for account 1, as fast as SQLite inserts: tests/export.rs and
-- docs/bench/corrections-rss.sh fill {all} tasks, each reported one second after the one
-- before from {t0} (milliseconds since the epoch); the first {rows} reports carry a
-- correction, the rest are no labels. Verdicts and re-check solves are mixed (a solve that
-- agrees with the correction, one that gives the delivered answer back, none), one answer in a
-- thousand needs CSV quoting.
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {all})
INSERT INTO tasks (id, account_id, captcha_type, provider, worker, answer, cost_micros,
                   completed_at, ingested_at)
SELECT 'k' || printf('%07d', i), 1, CASE WHEN i % 10 = 0 THEN 'audio' ELSE 'image' END,
       'prov-' || (i % 5), CASE WHEN i % 4 = 0 THEN NULL ELSE 'w' || (i % 100) END,
       CASE WHEN i % 1000 = 7 THEN 'a,"b"' ELSE 'A' || i END, 1000,
       {t0} + i * 1000 - 5000, {t0}
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {all})
INSERT INTO reports (task_id, account_id, kind, correction, dialect, received_at,
                     verdict, reason, evidence, refund_micros, trust_weight,
                     recheck_suspect, recheck_solves)
SELECT 'k' || printf('%07d', i), 1, 'incorrect',
       CASE WHEN i >= {rows} THEN NULL ELSE 'C' || i END, 'native',
       {t0} + i * 1000,
       CASE i % 3 WHEN 0 THEN 'accepted' WHEN 1 THEN 'rejected' ELSE 'pending' END,
       CASE i % 3 WHEN 0 THEN 'recheck_confirmed' WHEN 1 THEN 'recheck_refuted'
                  ELSE 'awaiting_recheck' END,
       '{}', CASE WHEN i % 3 = 0 THEN 1000 END, (i % 11) / 10.0, 0,
       CASE i % 3 WHEN 0 THEN '["c' || i || '"]' WHEN 1 THEN '["A' || i || '"]'
                  ELSE '[]' END
FROM n;
COMMIT;
