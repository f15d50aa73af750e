-- Cases marked approved that the store's signatures do not sign off (not in the view
-- `signed_off`, sql/signoff/signed_off.sql): apply refuses them.
SELECT case_id
FROM cases
WHERE status = 'approved'
  AND case_id NOT IN (SELECT case_id FROM signed_off)
ORDER BY case_id
