-- The parts the link stage cut the store into (one, unless the store is big).
SELECT DISTINCT part FROM link_births ORDER BY part
