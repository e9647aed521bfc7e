-- The scheduled payment run (R17) looks only at grants whose next due date has come, instead of
-- decoding and locking every accepted grant at every tick. save_grant stores the grant's next
-- due date (services.payments.domain.next_payment_due: the first period of its governing budget
-- with money and no instruction yet; NULL when none) and stamps it with the updated_at it was
-- computed for. A row whose stamp differs from its updated_at (written before this migration,
-- or by a replica of an older version) is a candidate too, so no due date is ever missed.
ALTER TABLE grant_accounts
    ADD COLUMN payment_due     date,
    ADD COLUMN payment_due_of  timestamptz;
CREATE INDEX grant_accounts_payment_due ON grant_accounts (payment_due);
