-- Payments state: one JSONB document per grant account and per grantee's hold book, rebuilt by
-- the domain's evolve functions; rows are locked (SELECT … FOR UPDATE) so writers serialise.
-- Lock order everywhere: hold books (in cvr order) before grant accounts (in application order).

CREATE TABLE grant_accounts (
    application_id  uuid PRIMARY KEY,
    cvr             text NOT NULL,              -- the grantee; holds are per CVR (R18)
    state           jsonb NOT NULL,             -- services.payments.domain.GrantAccount
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grant_accounts_cvr ON grant_accounts (cvr);

-- One row per grantee, created with its first grant (or first hold) so a payment run can lock
-- every grantee's book and a concurrent hold waits for the run instead of slipping past it.
CREATE TABLE hold_books (
    cvr         text PRIMARY KEY,
    state       jsonb NOT NULL,                 -- services.payments.domain.HoldBook
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Routes HTTP calls about a hold to its grantee's book.
CREATE TABLE hold_index (
    hold_id  uuid PRIMARY KEY,
    cvr      text NOT NULL
);

-- Routes finance results (and re-issue requests) by instruction id to their grant.
CREATE TABLE instruction_index (
    instruction_id  uuid PRIMARY KEY,
    application_id  uuid NOT NULL
);

-- The first person of a two-person hold release (R19), waiting for a different second person.
CREATE TABLE release_requests (
    hold_id       uuid PRIMARY KEY,
    cvr           text NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL
);
