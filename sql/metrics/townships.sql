-- Every township the report names: the divisions reference, and any code seen in births.
SELECT t.township, coalesce(d.name, '未知乡镇（' || t.township || '）') AS name
FROM (SELECT DISTINCT township FROM report_births WHERE township IS NOT NULL) AS t
LEFT JOIN divisions AS d ON d.code = t.township
ORDER BY t.township
