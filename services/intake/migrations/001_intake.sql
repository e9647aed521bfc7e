-- Intake state: one JSONB document per application, a global submission index, and the pools.
-- Writers lock an application's row (SELECT … FOR UPDATE) for the whole decision; a submission
-- claims its id in the index first, so the same id sent for two applications at once is decided
-- once (the second waits for the first's claim and then sees it).

CREATE TABLE applications (
    application_id  uuid PRIMARY KEY,
    applicant_cvr   text,                   -- bound by the first version or IT-problem contact
    pool_id         text,
    state           jsonb NOT NULL,         -- services.intake.domain.ApplicationState
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- submission_id → the application it was submitted for (R9: one submission, one application).
-- submitter_cvr is the organisation of the token that sent it: who may read its receipt.
CREATE TABLE submission_index (
    submission_id   uuid PRIMARY KEY,
    application_id  uuid NOT NULL,
    submitter_cvr   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The latest PoolPublished per pool (deadline, exception windows), as published by assessment.
CREATE TABLE pools (
    pool_id     text PRIMARY KEY,
    version     integer NOT NULL,
    published   jsonb NOT NULL,             -- contracts.assessment.PoolPublished
    updated_at  timestamptz NOT NULL DEFAULT now()
);
