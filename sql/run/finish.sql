-- A run ends: when, and its summary (run.json's counts and the audit head it ended on).
UPDATE runs SET finished_at = $finished_at, summary = $summary WHERE run_id = $run_id
