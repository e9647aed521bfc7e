-- Events recorded in one transaction share occurred_at and recorded_at (now() is the
-- transaction's start); their insertion order breaks the tie (ReportSubmitted before
-- ReportAccepted before RepaymentClaimed).
ALTER TABLE events ADD COLUMN recorded_seq bigserial;
