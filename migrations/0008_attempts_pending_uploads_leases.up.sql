-- What the processor has tried, uploads not yet owned by a task, and outbox leases.

-- Every delivery of a task's job that the processor received: the sweeper gives up on a task by
-- attempts, never by how long its job waited in the queue.
alter table tasks
    add column processing_attempts integer not null default 0 check (processing_attempts >= 0),
    add column last_attempt_at timestamptz;
drop index tasks_in_progress_updated_at_idx;
create index tasks_in_progress_last_attempt_at_idx on tasks (last_attempt_at)
    where status = 'IN_PROGRESS';

-- An object key written before its PUT and deleted in the transaction that creates its task:
-- a row that outlives its grace period names an object no task will ever own.
create table pending_uploads (
    object_key text primary key,
    reserved_at timestamptz not null
);
create index pending_uploads_reserved_at_idx on pending_uploads (reserved_at);

-- A delivery attempt claims its job until this time instead of holding a row lock across the
-- SQS call.
alter table outbox_jobs add column claimed_until timestamptz;
