-- Reverts 0009. Drafts after the first and trashed tasks' trash marks are lost; each task keeps
-- the file and figures it shows.
drop table deletion_outbox;

delete from outbox_jobs where draft <> 1;
alter table outbox_jobs drop constraint outbox_jobs_pkey;
alter table outbox_jobs drop column draft;
alter table outbox_jobs add primary key (task_id);

drop index tasks_live_title_trgm_idx;
drop index tasks_trashed_at_idx;
drop index tasks_trashed_created_idx;
drop index tasks_live_status_due_idx;
drop index tasks_live_due_idx;
drop index tasks_live_status_created_idx;
drop index tasks_live_created_idx;
create index tasks_user_id_created_at_idx on tasks (user_id, created_at desc, id desc);
create index tasks_user_id_status_created_at_idx on tasks (user_id, status, created_at desc, id desc);

comment on column tasks.upload_expires_at is null;
comment on column tasks.processing_attempts is null;
comment on column tasks.last_attempt_at is null;

drop trigger tasks_bump_version on tasks;
drop function bump_version();

alter table tasks disable trigger tasks_maintain_timestamps;
update tasks t
set upload_expires_at = d.upload_expires_at,
    processing_attempts = d.processing_attempts,
    last_attempt_at = d.last_attempt_at
from task_drafts d
where d.task_id = t.id and d.number = t.shown_draft;
-- What 0005's constraints require of a task's status.
update tasks set result_path = null where status = 'CANCELLED';
update tasks set status = 'CANCELLED', error = coalesce(error, 'processing did not finish')
where status = 'COMPLETED' and file_path is not null and (result_path is null or completed_at is null);
alter table tasks enable trigger tasks_maintain_timestamps;

create index tasks_pending_upload_expires_idx on tasks (upload_expires_at)
    where status = 'PENDING' and upload_expires_at is not null;
create index tasks_in_progress_last_attempt_at_idx on tasks (last_attempt_at)
    where status = 'IN_PROGRESS';

alter table tasks
    add constraint tasks_completed_has_result
        check (status <> 'COMPLETED' or file_path is null
               or (completed_at is not null and result_path is not null)),
    add constraint tasks_cancelled_has_no_result
        check (status <> 'CANCELLED' or result_path is null),
    drop column chapters,
    drop column average_sentence_words,
    drop column sentence_count,
    drop column paragraph_count,
    drop column shown_draft,
    drop column drafts_created,
    drop column processing_draft,
    drop column trashed_at,
    drop column word_target,
    drop column version;

drop table task_drafts;
drop type draft_state;

alter table users drop column time_zone;

drop extension if exists pg_trgm;
