-- The records of one part: births in the years $first..$last.
SELECT * FROM link_records WHERE year(birth_date) BETWEEN $first AND $last
