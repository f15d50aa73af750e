-- The case ids (JSON, one list per notice) every earlier notice to $target sent.
SELECT case_ids FROM notices WHERE target_system = $target
