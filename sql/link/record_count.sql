-- Rows of the three record tables: at least as many as the current records (versions
-- count too), read from the tables' sizes without scanning the views.
SELECT (SELECT count(*) FROM pop_records) + (SELECT count(*) FROM hosp_records)
     + (SELECT count(*) FROM police_records)
