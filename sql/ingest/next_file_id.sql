-- The id of the next file ingested, from the sequence file_ids.
SELECT nextval('file_ids')
