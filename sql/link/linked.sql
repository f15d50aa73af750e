-- What the link stage wrote, as reconcile reads it: one row per birth.
SELECT birth, pop_uid, hosp_uid, police_uid FROM link_births ORDER BY birth
