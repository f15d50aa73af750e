-- One part's births, as the link stage wrote them.
SELECT birth, pop_uid, hosp_uid, police_uid FROM link_births WHERE part = $part ORDER BY birth
