-- Bank master data per grantee (R19): one JSONB document per CVR (services.payments.domain.bank
-- BankBook), every change requested and approved kept as its history.
CREATE TABLE bank_books (
    cvr         text PRIMARY KEY,
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Routes HTTP calls about a change to its grantee's book (no CVR in a URL).
CREATE TABLE bank_change_index (
    change_id  uuid PRIMARY KEY,
    cvr        text NOT NULL
);
