-- The store: every run, ingested file, record version, quarantined row and finding.
-- Created on first use; every statement is idempotent.

CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE SEQUENCE IF NOT EXISTS file_ids START 1;

CREATE TABLE IF NOT EXISTS runs (
    run_id       INTEGER PRIMARY KEY,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    as_of        DATE NOT NULL,
    inbox        VARCHAR NOT NULL,
    tool_version VARCHAR NOT NULL,
    summary      JSON
);

-- One row per distinct file content ever ingested; a file seen again is skipped.
CREATE TABLE IF NOT EXISTS files (
    file_id          INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL,
    feed             VARCHAR NOT NULL,
    file_name        VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL UNIQUE,
    size_bytes       BIGINT NOT NULL,
    format           VARCHAR NOT NULL,
    encoding         VARCHAR,
    header           JSON NOT NULL,
    rows_read        BIGINT NOT NULL,
    rows_accepted    BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_new         BIGINT NOT NULL,  -- accepted rows that made a new record or version
    rows_unchanged   BIGINT NOT NULL   -- accepted rows identical to the current version
);

-- Record versions. A key seen again with other values gets version + 1; the old stays.
-- (key, version) is unique by construction (a key repeated in one file is quarantined,
-- and each file's versions are numbered on from the stored ones); the store stage checks
-- the keys it inserts rather than declaring a primary key: DuckDB keeps such an index in
-- memory, and at ten million births the three would hold 1.5 GB of the store's cap.
CREATE TABLE IF NOT EXISTS pop_records (
    record_id      VARCHAR NOT NULL,
    version        INTEGER NOT NULL,
    file_id        INTEGER NOT NULL,
    line           BIGINT NOT NULL,
    row_hash       VARCHAR NOT NULL,
    name           VARCHAR,
    sex            VARCHAR,
    birth_date     DATE NOT NULL,
    id_number      VARCHAR,
    mother_name    VARCHAR NOT NULL,
    mother_id      VARCHAR NOT NULL,
    father_name    VARCHAR,
    birth_order    INTEGER NOT NULL,
    division_code  VARCHAR NOT NULL,
    reported_on    DATE NOT NULL,
    reporting_unit VARCHAR,
    extra          JSON
);

CREATE TABLE IF NOT EXISTS hosp_records (
    delivery_id     VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    file_id         INTEGER NOT NULL,
    line            BIGINT NOT NULL,
    row_hash        VARCHAR NOT NULL,
    facility_code   VARCHAR NOT NULL,
    facility_name   VARCHAR,
    mother_name     VARCHAR NOT NULL,
    mother_id       VARCHAR NOT NULL,
    delivered_at    TIMESTAMP NOT NULL,
    sex             VARCHAR,
    plurality       INTEGER NOT NULL,
    birth_rank      INTEGER,
    birth_order     INTEGER,
    birth_weight_g  INTEGER,
    gestation_weeks INTEGER,
    outcome         VARCHAR NOT NULL,
    certificate_no  VARCHAR,
    division_code   VARCHAR NOT NULL,
    registered_on   DATE NOT NULL,
    extra           JSON
);

CREATE TABLE IF NOT EXISTS police_records (
    id_number         VARCHAR NOT NULL,
    version           INTEGER NOT NULL,
    file_id           INTEGER NOT NULL,
    line              BIGINT NOT NULL,
    row_hash          VARCHAR NOT NULL,
    name              VARCHAR NOT NULL,
    sex               VARCHAR,
    birth_date        DATE NOT NULL,
    certificate_no    VARCHAR,
    mother_name       VARCHAR,
    mother_id         VARCHAR,
    household_no      VARCHAR NOT NULL,
    division_code     VARCHAR NOT NULL,
    registered_on     DATE NOT NULL,
    registration_type VARCHAR NOT NULL,
    extra             JSON
);

-- The current version of each record: a version no later version of its key supersedes.
-- An anti join against the versions after the first (few: most keys have only one) scans
-- the table once; a window over every key partitions all of its columns, twice the time
-- at ten million records (bench/README.md).
CREATE OR REPLACE VIEW pop AS
    SELECT r.* FROM pop_records AS r
    ANTI JOIN (SELECT record_id, version FROM pop_records WHERE version > 1) AS later
        ON later.record_id = r.record_id AND later.version > r.version;
CREATE OR REPLACE VIEW hosp AS
    SELECT r.* FROM hosp_records AS r
    ANTI JOIN (SELECT delivery_id, version FROM hosp_records WHERE version > 1) AS later
        ON later.delivery_id = r.delivery_id AND later.version > r.version;
CREATE OR REPLACE VIEW police AS
    SELECT r.* FROM police_records AS r
    ANTI JOIN (SELECT id_number, version FROM police_records WHERE version > 1) AS later
        ON later.id_number = r.id_number AND later.version > r.version;

CREATE TABLE IF NOT EXISTS quarantine (
    file_id INTEGER NOT NULL,
    feed    VARCHAR NOT NULL,
    line    BIGINT NOT NULL,
    raw     VARCHAR NOT NULL,
    reasons VARCHAR NOT NULL
);

-- Warnings on accepted rows (a readable value that fails a check).
CREATE TABLE IF NOT EXISTS warnings (
    file_id    INTEGER NOT NULL,
    feed       VARCHAR NOT NULL,
    line       BIGINT NOT NULL,
    record_key VARCHAR,
    field      VARCHAR NOT NULL,
    rule       VARCHAR NOT NULL,
    value      VARCHAR,
    message    VARCHAR NOT NULL
);

-- Failures per row rule and file, both severities, for the report.
CREATE TABLE IF NOT EXISTS rule_results (
    file_id  INTEGER NOT NULL,
    feed     VARCHAR NOT NULL,
    field    VARCHAR NOT NULL,
    rule     VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    failures BIGINT NOT NULL,
    rows     BIGINT NOT NULL
);

-- Great Expectations results per file (feed-level expectations).
CREATE TABLE IF NOT EXISTS expectation_results (
    file_id            INTEGER NOT NULL,
    run_id             INTEGER NOT NULL,
    feed               VARCHAR NOT NULL,
    expectation        VARCHAR NOT NULL,
    label              VARCHAR,
    "column"           VARCHAR,
    success            BOOLEAN NOT NULL,
    observed_value     VARCHAR,
    unexpected_count   BIGINT,
    unexpected_percent DOUBLE,
    element_count      BIGINT,
    details            JSON
);

-- The divisions reference (区划), replaced whole when a new one arrives.
CREATE TABLE IF NOT EXISTS divisions (
    code   VARCHAR PRIMARY KEY,
    name   VARCHAR NOT NULL,
    level  VARCHAR NOT NULL,
    parent VARCHAR
);

-- The link stage's tables (recon/link/stage.py), rewritten each night it runs.
-- One row per birth the records were grouped into, with its record in each feed.
CREATE TABLE IF NOT EXISTS link_births (
    birth      BIGINT NOT NULL,
    pop_uid    VARCHAR,  -- "pop:<record_id>"
    hosp_uid   VARCHAR,  -- "hosp:<delivery_id>"
    police_uid VARCHAR,  -- "police:<id_number>"
    part       INTEGER   -- the part of the link (0 unless the store was cut by birth months)
);
ALTER TABLE link_births ADD COLUMN IF NOT EXISTS part INTEGER;
-- Each pair of records linked, and the pass (method) and score that linked it.
CREATE TABLE IF NOT EXISTS links (
    uid_l  VARCHAR NOT NULL,
    uid_r  VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    score  DOUBLE NOT NULL,
    part   INTEGER  -- the part of the link that linked them, as in link_births
);
-- Links written before they carried their part have none (reconcile/links_by_uid.sql).
ALTER TABLE links ADD COLUMN IF NOT EXISTS part INTEGER;
-- pop records of a birth already in pop (重报), and the record they repeat.
CREATE TABLE IF NOT EXISTS link_duplicates (
    uid          VARCHAR NOT NULL,
    duplicate_of VARCHAR NOT NULL,
    method       VARCHAR NOT NULL
);

-- The reconcile stage's findings (recon/reconcile/stage.py), in the worklist's columns;
-- the cases stage folds them into `cases`.
CREATE TABLE IF NOT EXISTS findings (
    category         VARCHAR NOT NULL,
    target_system    VARCHAR NOT NULL,
    field            VARCHAR,
    current_value    VARCHAR,
    proposed_value   VARCHAR,
    pop_record_id    VARCHAR,
    hosp_delivery_id VARCHAR,
    police_id_number VARCHAR,
    duplicate_of     VARCHAR,
    division_code    VARCHAR,
    confidence       DOUBLE NOT NULL,
    evidence         VARCHAR NOT NULL
);

-- The reconcile stage's births: one per real birth, its records and consensus facts.
CREATE TABLE IF NOT EXISTS births (
    birth_id         BIGINT NOT NULL,
    pop_record_id    VARCHAR,
    hosp_delivery_id VARCHAR,
    police_id_number VARCHAR,
    link_methods     VARCHAR
);
-- The consensus facts of each birth, for the report (added after the first release).
ALTER TABLE births ADD COLUMN IF NOT EXISTS sex VARCHAR;            -- M | F | NULL
ALTER TABLE births ADD COLUMN IF NOT EXISTS birth_date DATE;
ALTER TABLE births ADD COLUMN IF NOT EXISTS division_code VARCHAR;  -- 12 digits
ALTER TABLE births ADD COLUMN IF NOT EXISTS outcome VARCHAR;        -- 活产 | 死产

-- One correction someone must verify and sign. The id is derived from what the finding
-- is about (category, target, field, record, proposed value), so it is stable across runs.
CREATE TABLE IF NOT EXISTS cases (
    case_id          VARCHAR PRIMARY KEY,
    category         VARCHAR NOT NULL,
    target_system    VARCHAR NOT NULL,
    field            VARCHAR,
    current_value    VARCHAR,
    proposed_value   VARCHAR,
    pop_record_id    VARCHAR,
    hosp_delivery_id VARCHAR,
    police_id_number VARCHAR,
    duplicate_of     VARCHAR,
    division_code    VARCHAR,
    confidence       DOUBLE NOT NULL,
    evidence         VARCHAR NOT NULL,
    status           VARCHAR NOT NULL DEFAULT 'open',
    opened_run       INTEGER NOT NULL,
    last_seen_run    INTEGER NOT NULL,
    closed_run       INTEGER,  -- the run in which the finding was no longer there
    CHECK (category IN ('missing', 'misreported', 'fictitious', 'duplicate')),
    CHECK (target_system IN ('pop', 'hosp', 'police')),
    CHECK (status IN ('open', 'signing', 'approved', 'rejected', 'applied')),
    CHECK (confidence BETWEEN 0 AND 1)
);

-- What the last reconcile saw, so a night with nothing new does not redo it.
CREATE TABLE IF NOT EXISTS reconcile_state (
    run_id       INTEGER NOT NULL,
    as_of        DATE NOT NULL,
    last_file_id INTEGER NOT NULL,
    settings     VARCHAR NOT NULL
);

-- Trained linkage models (recon link train); the newest is used.
CREATE TABLE IF NOT EXISTS link_models (
    trained_at TIMESTAMP,
    records    BIGINT,
    settings   JSON,
    summary    JSON
);

-- ---------------------------------------------------------------------------------------
-- Sign-off (六签字): exports, signatures, status log, corrections, corrected register.
-- DuckDB has CHECK constraints but no triggers and no cross-table checks, so:
--   * case_status_log accepts only the allowed transitions (CHECK below); every status
--     change of a case goes through recon.signoff and writes a row here first;
--   * signatures enforce position, decision and "reason required with 不同意" by CHECK;
--   * apply selects only cases with six 同意 signatures at positions 1..6 (SQL, not code).
-- ---------------------------------------------------------------------------------------

-- One worklist handed out for signing; the fingerprint detects a case changed since.
CREATE TABLE IF NOT EXISTS exports (
    export_id     VARCHAR PRIMARY KEY,
    created_at    TIMESTAMP NOT NULL,
    division_code VARCHAR,
    format        VARCHAR NOT NULL,
    case_ids      JSON NOT NULL,
    fingerprint   VARCHAR NOT NULL,
    CHECK (format IN ('xlsx', 'csv'))
);

-- The six sign-offs per case, in the configured order; never overwritten.
CREATE TABLE IF NOT EXISTS signatures (
    case_id     VARCHAR NOT NULL,
    position    INTEGER NOT NULL,
    role        VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    signed_on   DATE NOT NULL,
    decision    VARCHAR NOT NULL,
    reason      VARCHAR,
    export_id   VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, position),
    CHECK (position BETWEEN 1 AND 6),
    CHECK (decision IN ('同意', '不同意')),
    CHECK (decision = '同意' OR length(trim(coalesce(reason, ''))) > 0)
);

-- Every status change of a case; only the allowed transitions can be written.
CREATE TABLE IF NOT EXISTS case_status_log (
    case_id     VARCHAR NOT NULL,
    from_status VARCHAR NOT NULL,
    to_status   VARCHAR NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    cause       VARCHAR NOT NULL,  -- the export id of the import, or 'apply'
    CHECK ((from_status, to_status) IN (
        ('open', 'signing'), ('open', 'rejected'),
        ('signing', 'approved'), ('signing', 'rejected'),
        ('approved', 'applied')))
);

-- The ledger of applied corrections, append-only: the corrected register is derived from it,
-- and every row is an audit entry (its digest), so an edited row fails `audit verify`.
-- A correction is undone by a later case, never by editing this table.
CREATE TABLE IF NOT EXISTS corrections (
    case_id       VARCHAR PRIMARY KEY,
    target_system VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,  -- update | remove | add
    record_id     VARCHAR,
    field         VARCHAR,
    old_value     VARCHAR,
    new_value     VARCHAR,
    evidence      VARCHAR,
    applied_at    TIMESTAMP NOT NULL,
    signatures    JSON NOT NULL,
    CHECK (action IN ('update', 'remove', 'add')),
    CHECK (json_array_length(signatures) = 6)
);
ALTER TABLE corrections ADD COLUMN IF NOT EXISTS category VARCHAR;
-- add: the record added; remove: the record as it was when removed (kept in the history).
ALTER TABLE corrections ADD COLUMN IF NOT EXISTS record JSON;

-- Notices (通报) of corrections sent to the police or the hospital: which cases went out.
CREATE TABLE IF NOT EXISTS notices (
    notice_id     VARCHAR PRIMARY KEY,
    target_system VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    case_ids      JSON NOT NULL,
    CHECK (target_system IN ('police', 'hosp'))
);

-- The corrected population register: current pop records with the applied corrections.
CREATE TABLE IF NOT EXISTS corrected_pop (
    record_id      VARCHAR PRIMARY KEY,
    version        INTEGER,
    file_id        INTEGER,
    line           BIGINT,
    row_hash       VARCHAR,
    name           VARCHAR,
    sex            VARCHAR,
    birth_date     DATE,
    id_number      VARCHAR,
    mother_name    VARCHAR,
    mother_id      VARCHAR,
    father_name    VARCHAR,
    birth_order    INTEGER,
    division_code  VARCHAR,
    reported_on    DATE,
    reporting_unit VARCHAR,
    extra          JSON,
    case_id        VARCHAR,    -- the applied case(s) that changed this row, comma-separated
    applied_at     TIMESTAMP
);

-- The audit log (recon audit verify): append-only and hash-chained. Every signature and
-- every status change is an entry. hash = SHA-256 of the canonical JSON of the entry plus
-- prev_hash (see recon/audit.py); seq starts at 1, the first prev_hash is 64 zeros.
-- details holds ids, digests and statuses, never data about a birth; a signature's entry
-- holds the signer's name, date, decision and reason (recon/signoff/common.py).
CREATE TABLE IF NOT EXISTS audit_log (
    seq       BIGINT PRIMARY KEY,
    "at"      TIMESTAMP NOT NULL,  -- quoted: AT is a keyword in DuckDB
    run_id    INTEGER,
    action    VARCHAR NOT NULL,
    subject   VARCHAR,
    details   JSON,
    prev_hash VARCHAR NOT NULL,
    hash      VARCHAR NOT NULL
);

-- Each run's headline figures (recon/metrics.py `headline`), for the report's history:
-- a value departing from the previous runs is flagged (modified z-score).
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id INTEGER NOT NULL,
    metric VARCHAR NOT NULL,
    scope  VARCHAR NOT NULL,  -- a feed, a category, 'county', or '<feed>:<township code>'
    value  DOUBLE,
    PRIMARY KEY (run_id, metric, scope)
);
