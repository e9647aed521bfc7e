-- Caseworker tasks the scheduler opens (services/payments/start_check.py): one row per task,
-- closed in place. The 6-month no-start check is one task per grant, ever (task_id = uuid5).
CREATE TABLE caseworker_tasks (
    task_id         uuid PRIMARY KEY,
    kind            text NOT NULL,
    application_id  uuid NOT NULL,
    due             date NOT NULL,
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,
    outcome         text,
    closed_by       text
);
CREATE INDEX caseworker_tasks_open ON caseworker_tasks (kind) WHERE closed_at IS NULL;
