-- The feeds this store has ever received a file of.
SELECT DISTINCT feed FROM files
