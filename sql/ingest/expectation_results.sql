-- Great Expectations' outcome of each feed-level expectation on one file.
-- Reads the view `incoming` (recon.validate.expectations.outcomes_frame).
INSERT INTO expectation_results
SELECT
    $file_id, $run_id, feed, expectation, label, "column", success, observed_value,
    unexpected_count, unexpected_percent, element_count, details
FROM incoming
