-- intake's projection of the organisation register (assessment owns it and publishes every change
-- as OrganisationRecorded on the pools topic): the entry in force per CVR and its revision. A
-- submission's applicant is read from here by the token's CVR (R2, R4).
CREATE TABLE organisations (
    cvr           text PRIMARY KEY,
    revision      bigint NOT NULL,
    organisation  jsonb NOT NULL,           -- contracts.register.Organisation
    updated_at    timestamptz NOT NULL DEFAULT now()
);
