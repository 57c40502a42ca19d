-- Reverts 0006.
create index outbox_jobs_sent_at_idx on outbox_jobs (sent_at) where sent_at is not null;
drop index tasks_in_progress_updated_at_idx;
drop index tasks_pending_upload_expires_idx;
alter table tasks drop column upload_expires_at;
