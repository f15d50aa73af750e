-- Every division of the reference, for the printed form's place names.
SELECT code, name, level, parent FROM divisions
