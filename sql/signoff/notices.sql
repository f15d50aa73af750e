-- One notice written: $notice_id to $target at $created_at, holding $case_ids (JSON).
INSERT INTO notices VALUES ($notice_id, $target, $created_at, $case_ids)
