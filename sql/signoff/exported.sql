-- The export $export_id: the case ids it handed out (JSON) and their fingerprint.
SELECT case_ids, fingerprint FROM exports WHERE export_id = $export_id
