-- Tasks a writer manages: a row version for If-Match, a word target, the trash, every upload kept
-- as a draft with its own figures, the manuscript's structure, and a deletion outbox.

-- Title search (`q=`) by trigram; a trusted extension, so the database owner may create it.
create extension if not exists pg_trgm;

-- Set by hand only (the accounts issue makes it editable); today's date for progress is counted in it.
alter table users add column time_zone text not null default 'UTC' check (length(time_zone) between 1 and 64);

create type draft_state as enum ('PROCESSING', 'PROCESSED', 'FAILED');

-- Every upload of a task, numbered from 1 and never reused, with its own processing and figures.
-- The task row keeps a copy of the figures of the draft it shows (its latest processed one,
-- else its first), so reading a task or a page of them reads one row each.
create table task_drafts (
    task_id uuid not null references tasks (id) on delete cascade,
    number integer not null check (number >= 1),
    file_path text not null,
    file_name text,
    file_content_type text,
    file_size bigint not null check (file_size > 0),
    -- For a direct upload: when its presigned URL expires.
    upload_expires_at timestamptz,
    state draft_state not null default 'PROCESSING',
    error text check (length(error) <= 1000),
    processing_attempts integer not null default 0 check (processing_attempts >= 0),
    last_attempt_at timestamptz,
    result_path text,
    detected_content_type text,
    sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
    line_count bigint check (line_count >= 0),
    word_count bigint check (word_count >= 0),
    character_count bigint check (character_count >= 0),
    reading_minutes double precision check (reading_minutes >= 0),
    paragraph_count bigint check (paragraph_count >= 0),
    sentence_count bigint check (sentence_count >= 0),
    average_sentence_words double precision check (average_sentence_words >= 0),
    chapters jsonb,
    created_at timestamptz not null default now(),
    processed_at timestamptz,
    primary key (task_id, number),
    constraint task_drafts_processed_has_result
        check (state <> 'PROCESSED' or (result_path is not null and processed_at is not null)),
    constraint task_drafts_failed_has_error check (state <> 'FAILED' or error is not null)
);
-- At most one draft of a task is being processed: a second upload meanwhile is a 409.
create unique index task_drafts_one_processing_idx on task_drafts (task_id) where state = 'PROCESSING';
-- The sweeper: drafts whose job was tried as often as the queue allows.
create index task_drafts_processing_last_attempt_idx on task_drafts (last_attempt_at)
    where state = 'PROCESSING';
-- The sweeper: direct uploads still waiting after their URL expired.
create index task_drafts_awaiting_upload_idx on task_drafts (upload_expires_at)
    where state = 'PROCESSING' and processing_attempts = 0 and upload_expires_at is not null;
-- The sweeper: which objects under incoming/ a draft owns.
create index task_drafts_file_path_idx on task_drafts (file_path);

alter table tasks
    -- Bumped by every write (the trigger below), whoever writes: the ETag and If-Match.
    add column version bigint not null default 1,
    add column word_target integer check (word_target > 0),
    -- In the trash since then; purged TRASH_RETENTION_DAYS later.
    add column trashed_at timestamptz,
    -- The draft whose processing the status follows (the seed's flow, for the file given at
    -- creation); cleared when that processing ends or the owner sets the status.
    add column processing_draft integer,
    -- Drafts ever created: the next one is numbered one more, so a number is never reused.
    add column drafts_created integer not null default 0 check (drafts_created >= 0),
    -- The draft whose file and figures the task shows.
    add column shown_draft integer,
    add column paragraph_count bigint check (paragraph_count >= 0),
    add column sentence_count bigint check (sentence_count >= 0),
    add column average_sentence_words double precision check (average_sentence_words >= 0),
    add column chapters jsonb,
    -- The owner may complete a task whose file is still on its way, and cancel one whose job
    -- then finishes its draft's figures: results belong to drafts now.
    drop constraint tasks_completed_has_result,
    drop constraint tasks_cancelled_has_no_result;

-- One more for every update that changes what a reader of the task sees: taking a draft number
-- (`drafts_created`) or rewriting a row unchanged leaves the version, so no other tab's
-- If-Match fails for nothing.
create function bump_version() returns trigger
language plpgsql as $$
begin
    if (to_jsonb(new) - 'version' - 'updated_at' - 'drafts_created')
       is distinct from (to_jsonb(old) - 'version' - 'updated_at' - 'drafts_created') then
        new.version := old.version + 1;
    else
        new.version := old.version;
    end if;
    return new;
end;
$$;

-- Every task with a file gets its file as draft 1, with what the processor found.
insert into task_drafts (task_id, number, file_path, file_name, file_content_type, file_size,
                         upload_expires_at, state, error, processing_attempts, last_attempt_at,
                         result_path, detected_content_type, sha256, line_count, word_count,
                         character_count, reading_minutes, created_at, processed_at)
select id, 1, file_path, file_name, file_content_type, coalesce(file_size, 1), upload_expires_at,
       case
           when result_path is not null then 'PROCESSED'::draft_state
           when status = 'CANCELLED' then 'FAILED'::draft_state
           when status = 'COMPLETED' then 'FAILED'::draft_state
           else 'PROCESSING'::draft_state
       end,
       case when result_path is null and status in ('CANCELLED', 'COMPLETED')
            then coalesce(error, 'processing did not finish') end,
       processing_attempts, last_attempt_at, result_path, detected_content_type, sha256,
       line_count, word_count, character_count, reading_minutes, created_at,
       case when result_path is not null then coalesce(completed_at, updated_at) end
from tasks
where file_path is not null;

-- Without touching updated_at: these rows did not change for their owners.
alter table tasks disable trigger tasks_maintain_timestamps;
update tasks
set drafts_created = 1,
    shown_draft = 1,
    processing_draft = case when status in ('PENDING', 'IN_PROGRESS') then 1 end
where file_path is not null;
alter table tasks enable trigger tasks_maintain_timestamps;

create trigger tasks_bump_version
    before update on tasks
    for each row execute function bump_version();

-- Attempts and upload expiry are per draft now. The task's own columns stay for the release
-- before this one, which may still be serving while this deploy rolls out (expand, then contract:
-- a later migration drops them); this release never reads or writes them.
drop index tasks_pending_upload_expires_idx;
drop index tasks_in_progress_last_attempt_at_idx;
comment on column tasks.upload_expires_at is 'unused since 0009 (task_drafts.upload_expires_at); dropped by a later migration';
comment on column tasks.processing_attempts is 'unused since 0009 (task_drafts.processing_attempts); dropped by a later migration';
comment on column tasks.last_attempt_at is 'unused since 0009 (task_drafts.last_attempt_at); dropped by a later migration';

-- The list: live tasks by creation or by due date (tasks without one last), with or without a
-- status; the trash by creation; the title search; the sweeper's purge of old trash.
drop index tasks_user_id_created_at_idx;
drop index tasks_user_id_status_created_at_idx;
create index tasks_live_created_idx on tasks (user_id, created_at desc, id desc)
    where trashed_at is null;
create index tasks_live_status_created_idx on tasks (user_id, status, created_at desc, id desc)
    where trashed_at is null;
create index tasks_live_due_idx on tasks (user_id, (coalesce(due_date, 'infinity'::timestamptz)), id)
    where trashed_at is null;
create index tasks_live_status_due_idx
    on tasks (user_id, status, (coalesce(due_date, 'infinity'::timestamptz)), id)
    where trashed_at is null;
create index tasks_trashed_created_idx on tasks (user_id, created_at desc, id desc)
    where trashed_at is not null;
create index tasks_trashed_at_idx on tasks (trashed_at) where trashed_at is not null;
create index tasks_live_title_trgm_idx on tasks using gin (title gin_trgm_ops)
    where trashed_at is null;

-- Jobs are per draft: a task may have one for each of its drafts.
alter table outbox_jobs add column draft integer not null default 1 check (draft >= 1);
alter table outbox_jobs drop constraint outbox_jobs_pkey;
alter table outbox_jobs add primary key (task_id, draft);

-- Objects to delete, by key prefix, written in the transaction that deletes what owned them (a
-- purged task, a deleted draft). No foreign key: the owner is gone. Each row is swept at once
-- and once more after one visibility timeout, so an upload or a processor run that overlapped the
-- deletion leaves nothing behind.
create table deletion_outbox (
    id bigint generated always as identity primary key,
    prefix text not null check (length(prefix) > 0),
    -- Sweeps done: the row goes after the second.
    sweeps integer not null default 0 check (sweeps >= 0),
    attempts integer not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null,
    last_error text,
    created_at timestamptz not null default now()
);
create index deletion_outbox_due_idx on deletion_outbox (next_attempt_at);
