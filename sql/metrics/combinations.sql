-- Births by the combination of feeds that witness them, live or stillborn, real or not.
SELECT in_hosp, in_police, in_pop, outcome, real_birth, count(*) AS births
FROM report_births
GROUP BY ALL
ORDER BY in_hosp DESC, in_police DESC, in_pop DESC, outcome, real_birth
