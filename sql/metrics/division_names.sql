-- Names of the divisions reference, for the townships of the register.
SELECT code, name, level FROM divisions ORDER BY code
