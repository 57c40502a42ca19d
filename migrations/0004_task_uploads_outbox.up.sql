-- What the client uploaded, and the outbox that guarantees its processing job reaches SQS.

-- The client's file name (sanitised into the key, kept whole here), type and size, as received.
alter table tasks
    add column file_name text,
    add column file_content_type text,
    add column file_size bigint check (file_size > 0);

-- A job is written in the same transaction as its task, then sent. A send that fails leaves
-- the row unsent, and the sweeper retries it with backoff: no task waits forever on a lost job.
create table outbox_jobs (
    task_id uuid primary key references tasks (id) on delete cascade,
    payload jsonb not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    sent_at timestamptz,
    last_error text,
    created_at timestamptz not null default now()
);
-- The sweeper's query: unsent jobs that are due, oldest first.
create index outbox_jobs_due_idx on outbox_jobs (next_attempt_at) where sent_at is null;
