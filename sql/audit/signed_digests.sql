-- Per case, the case digests its signatures' audit entries name (`case_digest`); entries
-- written before signatures carried the digest name none, so such a case has no row.
SELECT subject, list_distinct(list(details ->> 'case_digest'))
FROM audit_log
WHERE action = 'signature' AND json_exists(details, '$.case_digest')
GROUP BY subject
