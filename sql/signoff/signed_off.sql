-- Cases the store itself shows as signed off: exactly six signatures at positions 1..6,
-- every one 同意. Apply only ever touches cases in this set.
SELECT case_id
FROM signatures
GROUP BY case_id
HAVING count(*) = 6
   AND count(DISTINCT position) = 6
   AND min(position) = 1
   AND max(position) = 6
   AND bool_and(decision = '同意')
