-- Assessment state: one JSONB document per pool round and per programme's funding ledger.
-- Both are rebuilt by the domain's evolve functions; rows are locked (SELECT … FOR UPDATE) so
-- concurrent writers serialise per pool / per programme. Lock order: ledger before pool rounds.

CREATE TABLE pool_rounds (
    pool_id     text PRIMARY KEY,
    programme   text,                       -- NULL until a version is published
    state       jsonb NOT NULL,             -- services.assessment.domain.PoolRound
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pool_rounds_programme ON pool_rounds (programme);

CREATE TABLE funding_ledger (
    programme   text PRIMARY KEY,
    state       jsonb NOT NULL,             -- FundingLedger holding this programme's entries
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Routes HTTP commands and queries about one application to its pool round.
CREATE TABLE application_index (
    application_id  uuid PRIMARY KEY,
    pool_id         text NOT NULL
);
