-- The records every part's link leaves to a pass across the parts: those of births a
-- part left without a record of some feed (a record of theirs may sit in another part:
-- a birth date typed into another year), of births sharing a mother's or a child's
-- identity number with one of them (a register repeat in another year), and records
-- without a birth date. Writes the temporary tables `relink_births` and `relink`.
CREATE OR REPLACE TEMP TABLE placed AS
    SELECT birth, unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births;
CREATE OR REPLACE TEMP TABLE members AS
    SELECT birth, uid FROM placed WHERE uid IS NOT NULL
    UNION ALL
    SELECT p.birth, d.uid FROM link_duplicates AS d JOIN placed AS p ON p.uid = d.duplicate_of;
-- Only the numbers the pass compares, beside each member: a nation's records in full
-- would not fit DuckDB's memory cap, these few columns do (or spill).
CREATE OR REPLACE TEMP TABLE member_ids AS
    SELECT m.birth, r.mother_id, r.child_id
    FROM members AS m JOIN link_records AS r USING (uid);
-- Joins rather than `IN (…) OR IN (…)`: DuckDB spills a hash join to disk, not that.
CREATE OR REPLACE TEMP TABLE relink_births AS
    WITH open_births AS (
        SELECT birth FROM link_births
        WHERE pop_uid IS NULL OR hosp_uid IS NULL OR police_uid IS NULL
    ),
    numbers AS (
        SELECT DISTINCT unnest([i.mother_id, i.child_id]) AS id
        FROM member_ids AS i JOIN open_births USING (birth)
    )
    SELECT birth FROM open_births
    UNION
    SELECT i.birth FROM member_ids AS i JOIN numbers AS n ON i.mother_id = n.id
    UNION
    SELECT i.birth FROM member_ids AS i JOIN numbers AS n ON i.child_id = n.id;
CREATE OR REPLACE TEMP TABLE relink AS
    SELECT uid FROM members WHERE birth IN (SELECT birth FROM relink_births)
    UNION
    SELECT uid FROM link_records WHERE birth_date IS NULL;
DELETE FROM links WHERE uid_l IN (SELECT uid FROM relink);
DELETE FROM links WHERE uid_r IN (SELECT uid FROM relink);
DELETE FROM link_duplicates WHERE uid IN (SELECT uid FROM relink);
DELETE FROM link_duplicates WHERE duplicate_of IN (SELECT uid FROM relink);
DELETE FROM link_births WHERE birth IN (SELECT birth FROM relink_births);
DROP TABLE placed;
DROP TABLE members;
DROP TABLE member_ids;
