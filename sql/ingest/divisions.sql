-- The divisions reference, replaced by the one the inbox brings.
-- Reads the view `incoming` (code, name, level, parent).
DELETE FROM divisions;
INSERT INTO divisions SELECT code, name, level, parent FROM incoming;
