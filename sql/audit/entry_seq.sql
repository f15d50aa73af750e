-- The seq of the entry whose hash is $hash (a head given on the command line), if any.
SELECT seq FROM audit_log WHERE hash = $hash ORDER BY seq LIMIT 1
