-- The overdue sweep (R18) reads only the grant files whose next reporting deadline has passed,
-- instead of decoding every open file at every scheduler tick. save_file stores the file's
-- overdue_from (services.reporting.domain.overdue_from: the end of the earliest unmet, not yet
-- notified deadline's day; NULL when none) and stamps it with the updated_at it was computed
-- for. A row whose stamp differs from its updated_at (written before this migration, or by a
-- replica of an older version) is a candidate too, so no deadline is ever missed.
ALTER TABLE grant_files
    ADD COLUMN overdue_from     timestamptz,
    ADD COLUMN overdue_from_of  timestamptz;
CREATE INDEX grant_files_overdue_from ON grant_files (overdue_from);
