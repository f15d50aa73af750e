-- Every division code of the reference (empty when there is none).
SELECT code FROM divisions
