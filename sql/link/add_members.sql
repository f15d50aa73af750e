-- One part's members (the view `incoming`, birth numbers already offset).
INSERT INTO link_members BY NAME SELECT birth, mother_key, child_key FROM incoming
