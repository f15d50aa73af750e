-- The records of one part: births in the months (yyyymm) $first..$last.
SELECT * FROM link_records
WHERE year(birth_date) * 100 + month(birth_date) BETWEEN $first AND $last
