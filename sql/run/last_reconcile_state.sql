-- What the last reconcile depended on; a night that matches it brings nothing new.
SELECT as_of, last_file_id, settings FROM reconcile_state ORDER BY run_id DESC LIMIT 1
