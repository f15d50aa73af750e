-- The squeezed figures (挤干水分) per township of the register: register records, the
-- fictitious and duplicate records among them, the births missing from the register, and
-- boys and girls reported and verified; township = NULL (grouping() = 1) is the county.
-- Two scopes of cases: "night", what the latest run found and no one refuted (not closed,
-- not rejected; applied ones included: apply never closes a case), and "applied", the
-- corrections signed six times and applied. Read from cases, never from corrected_pop, so
-- the figures do not depend on how apply rebuilds the corrected register.
WITH held AS (
    SELECT * FROM cases
    WHERE (closed_run IS NULL AND status <> 'rejected') OR status = 'applied'
),
-- Per register record: removed (fictitious first, a record is removed once) and the sex
-- the evidence proposes for it, in each scope.
on_record AS (
    SELECT pop_record_id AS record_id,
        bool_or(category = 'fictitious') AS fictitious,
        bool_or(category = 'duplicate') AS duplicate,
        bool_or(category = 'fictitious' AND status = 'applied') AS fictitious_applied,
        bool_or(category = 'duplicate' AND status = 'applied') AS duplicate_applied,
        arg_max(proposed_value, last_seen_run)
            FILTER (WHERE category = 'misreported' AND field = 'sex') AS sex,
        arg_max(proposed_value, last_seen_run)
            FILTER (WHERE category = 'misreported' AND field = 'sex' AND status = 'applied')
            AS sex_applied
    FROM held
    WHERE target_system = 'pop' AND pop_record_id IS NOT NULL
    GROUP BY pop_record_id
),
-- Register records: the current version of every pop record in the store, counted in the
-- township the register itself places them (where a fictitious or duplicate record
-- inflates the count, so that is where it comes off).
register AS (
    SELECT substr(p.division_code, 1, 9) || '000' AS township,
        p.sex AS reported_sex,
        coalesce(r.fictitious, FALSE) AS fictitious,
        coalesce(r.duplicate AND NOT r.fictitious, FALSE) AS duplicate,
        coalesce(r.fictitious_applied, FALSE) AS fictitious_applied,
        coalesce(r.duplicate_applied AND NOT r.fictitious_applied, FALSE) AS duplicate_applied,
        CASE WHEN r.sex IN ('M', 'F') THEN r.sex ELSE p.sex END AS night_sex,
        CASE WHEN r.sex_applied IN ('M', 'F') THEN r.sex_applied ELSE p.sex END AS applied_sex
    FROM pop AS p
    LEFT JOIN on_record AS r USING (record_id)
),
-- Births missing from the register, counted where the evidence routes them (the case's
-- division). A missing birth carries no register sex: its sex is the consensus of the
-- birth the case is about (births.sex, from the hospital and police records). An applied
-- case whose birth has since reached the register is in the register count already.
missing AS (
    SELECT substr(c.division_code, 1, 9) || '000' AS township,
        c.status = 'applied' AS applied,
        coalesce(bh.sex, bp.sex) AS sex
    FROM held AS c
    LEFT JOIN births AS bh ON bh.hosp_delivery_id = c.hosp_delivery_id
    LEFT JOIN births AS bp ON bp.police_id_number = c.police_id_number
        AND bh.birth_id IS NULL
    WHERE c.category = 'missing' AND c.target_system = 'pop'
        AND coalesce(bh.pop_record_id, bp.pop_record_id) IS NULL
),
counted AS (
    SELECT township, 1 AS reported, fictitious::INTEGER AS fictitious,
        duplicate::INTEGER AS duplicate, 0 AS missing,
        fictitious_applied::INTEGER AS fictitious_applied,
        duplicate_applied::INTEGER AS duplicate_applied, 0 AS missing_applied,
        reported_sex,
        CASE WHEN NOT (fictitious OR duplicate) THEN night_sex END AS night_sex,
        CASE WHEN NOT (fictitious_applied OR duplicate_applied) THEN applied_sex END
            AS applied_sex
    FROM register
    UNION ALL
    SELECT township, 0, 0, 0, 1, 0, 0, applied::INTEGER,
        NULL, sex, CASE WHEN applied THEN sex ELSE NULL END
    FROM missing
)
SELECT CASE WHEN grouping(township) = 0 THEN township END AS township,
    grouping(township) = 1 AS county,
    coalesce(sum(reported), 0)::BIGINT AS reported,
    coalesce(sum(fictitious), 0)::BIGINT AS fictitious,
    coalesce(sum(duplicate), 0)::BIGINT AS duplicate,
    coalesce(sum(missing), 0)::BIGINT AS missing,
    coalesce(sum(fictitious_applied), 0)::BIGINT AS fictitious_applied,
    coalesce(sum(duplicate_applied), 0)::BIGINT AS duplicate_applied,
    coalesce(sum(missing_applied), 0)::BIGINT AS missing_applied,
    count(*) FILTER (WHERE reported_sex = 'M') AS reported_boys,
    count(*) FILTER (WHERE reported_sex = 'F') AS reported_girls,
    count(*) FILTER (WHERE night_sex = 'M') AS night_boys,
    count(*) FILTER (WHERE night_sex = 'F') AS night_girls,
    count(*) FILTER (WHERE applied_sex = 'M') AS applied_boys,
    count(*) FILTER (WHERE applied_sex = 'F') AS applied_girls
FROM counted
GROUP BY GROUPING SETS ((township), ())
ORDER BY county DESC, township
