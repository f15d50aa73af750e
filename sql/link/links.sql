-- Each pair the link stage linked, in the order it linked them.
SELECT uid_l, uid_r, method, score FROM links
