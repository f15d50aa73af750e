-- Each part's births with the numbers of their records and register repeats, as the
-- parts are linked (recon/link/partition.py): the mother's and the child's identity
-- numbers, hashed (compared within the night only). Read by the pass across the parts
-- (relink.sql), gone with it.
CREATE OR REPLACE TEMP TABLE link_members (
    birth      BIGINT NOT NULL,
    mother_key UBIGINT,
    child_key  UBIGINT
);
