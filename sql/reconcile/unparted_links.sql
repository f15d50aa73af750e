-- Whether any link carries no part (written before links carried one): such links are
-- placed by their records instead (links_by_uid.sql).
SELECT count(*) > 0 FROM links WHERE part IS NULL
