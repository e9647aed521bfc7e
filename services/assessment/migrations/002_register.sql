-- The organisation register (R2, R4), owned by assessment and published on the pools topic.
--   register_revision     the register's revision: every change (an OrganisationRecorded) takes
--                         the next one; the single row is locked by every change (FOR UPDATE),
--                         so revisions are gapless and in commit order
--   organisations         the entry in force per CVR (services.assessment.domain.register.RegisterEntry)
--   organisation_history  every OrganisationRecorded, by revision (the history a caseworker reads)
--   register_sources      the version in force of each register file (source), by content hash
--
-- Lock order: register_revision first, then organisations rows. No other command locks these.

CREATE TABLE register_revision (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    revision  bigint NOT NULL
);
INSERT INTO register_revision (id, revision) VALUES (true, 0);

CREATE TABLE organisations (
    cvr                text PRIMARY KEY,
    kind               text NOT NULL,
    municipality_code  text NOT NULL,
    revision           bigint NOT NULL,
    entry              jsonb NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisations_municipality ON organisations (municipality_code, kind);

CREATE TABLE organisation_history (
    revision     bigint PRIMARY KEY,
    cvr          text NOT NULL,
    event        jsonb NOT NULL,             -- contracts.register.OrganisationRecorded
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisation_history_cvr ON organisation_history (cvr, revision);

CREATE TABLE register_sources (
    source        text PRIMARY KEY,
    version       integer NOT NULL,
    content_hash  text NOT NULL,
    loaded        jsonb NOT NULL,            -- contracts.register.RegisterSourceLoaded
    updated_at    timestamptz NOT NULL DEFAULT now()
);
