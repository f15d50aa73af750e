-- What tonight's reconcile depended on: the as-of date, the last file, the settings.
INSERT INTO reconcile_state VALUES ($run_id, $as_of, $last_file_id, $settings)
