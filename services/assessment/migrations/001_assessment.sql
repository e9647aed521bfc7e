-- Assessment state as JSONB, rebuilt by the domain's evolve functions:
--   pool_rounds        the pool version in force (PoolPublished), one row per pool
--   application_files  one ApplicationFile per application (its pool round's part), which also
--                      routes HTTP commands about an application to its pool
--   funding_ledger     one FundingLedger per programme (R2)
--
-- Locks (SELECT … FOR UPDATE / FOR SHARE), always in this order: a programme's ledger, then pool
-- rows (in pool_id order when several), then application rows. A command on one application
-- holds its pool row FOR SHARE and its file FOR UPDATE; a command on a whole pool (publish,
-- re-assessment, allocation) holds the pool row FOR UPDATE, so it excludes every writer of the
-- pool's applications while it reads and writes them.

CREATE TABLE pool_rounds (
    pool_id     text PRIMARY KEY,
    programme   text,                       -- NULL until a version is published
    pool        jsonb,                      -- contracts.assessment.PoolPublished; NULL until then
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pool_rounds_programme ON pool_rounds (programme);

CREATE TABLE application_files (
    application_id  uuid PRIMARY KEY,
    pool_id         text NOT NULL REFERENCES pool_rounds (pool_id),
    file            jsonb NOT NULL,         -- services.assessment.domain.ApplicationFile
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_files_pool ON application_files (pool_id);

CREATE TABLE funding_ledger (
    programme   text PRIMARY KEY,
    state       jsonb NOT NULL,             -- FundingLedger holding this programme's entries
    updated_at  timestamptz NOT NULL DEFAULT now()
);
