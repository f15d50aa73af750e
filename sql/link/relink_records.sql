-- The records of the pass across the parts (relink.sql), in one frame.
SELECT * FROM link_records WHERE uid IN (SELECT uid FROM relink)
