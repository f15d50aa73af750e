-- The pop records the link stage found repeating a birth already in pop.
SELECT uid, duplicate_of, method FROM link_duplicates
