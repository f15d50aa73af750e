-- The hash of chain entry $seq (no row if it is gone): a recorded head, or entry 1, which
-- names the chain.
SELECT hash FROM audit_log WHERE seq = $seq
