-- Reverts 0008.
alter table outbox_jobs drop column claimed_until;
drop table pending_uploads;
drop index tasks_in_progress_last_attempt_at_idx;
create index tasks_in_progress_updated_at_idx on tasks (updated_at) where status = 'IN_PROGRESS';
alter table tasks drop column last_attempt_at, drop column processing_attempts;
