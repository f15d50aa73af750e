-- Keep a trained linkage model in `link_models` (created if the store predates it).
-- $trained_at, $records: when and on how many records; $settings, $summary: JSON text.
CREATE TABLE IF NOT EXISTS link_models (
    trained_at TIMESTAMP, records BIGINT, settings JSON, summary JSON
);

INSERT INTO link_models (trained_at, records, settings, summary)
VALUES ($trained_at, $records, $settings, $summary);
