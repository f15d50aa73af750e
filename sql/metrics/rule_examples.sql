-- Up to three examples per feed, field and rule from the latest extract of each feed:
-- quarantined rows (rule = their reason's field) and warnings. The report masks them.
WITH latest AS (SELECT feed, max(file_id) AS file_id FROM files GROUP BY feed),
examples AS (
    -- A quarantine reason is "<field>: <message>"; the message tells the rule (the
    -- structural rules of checks/rules.py: key_repeated, required, unreadable).
    SELECT q.feed, trim(split_part(reason, ':', 1)) AS field,
        CASE WHEN reason LIKE '%缺少必填项%' THEN 'required'
             WHEN reason LIKE '%无法识别为%' THEN 'unreadable'
             WHEN reason LIKE '%重复%' THEN 'key_repeated' END AS rule,
        fl.file_name, q.line, trim(substr(reason, strpos(reason, ':') + 1)) AS detail
    FROM quarantine AS q
    JOIN latest USING (feed, file_id)
    JOIN files AS fl USING (file_id),
    unnest(string_split(q.reasons, '; ')) AS u(reason)
    UNION ALL
    SELECT w.feed, w.field, w.rule, fl.file_name, w.line,
        w.message || '（值 “' || coalesce(w.value, '') || '”）'
    FROM warnings AS w
    JOIN latest USING (feed, file_id)
    JOIN files AS fl USING (file_id)
)
SELECT feed, field, rule, file_name, line, detail
FROM examples
QUALIFY row_number() OVER (PARTITION BY feed, field, rule ORDER BY line) <= 3
ORDER BY feed, field, rule, line
