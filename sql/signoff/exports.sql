-- One worklist handed out: $export_id at $created_at for $division (or NULL), as $format,
-- holding $case_ids (JSON) whose content has $fingerprint.
INSERT INTO exports VALUES ($export_id, $created_at, $division, $format, $case_ids, $fingerprint)
