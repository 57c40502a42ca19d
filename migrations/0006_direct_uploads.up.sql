-- Direct uploads: the client PUTs the file to S3 through a presigned URL, and S3's notification
-- starts the processing. Until the object arrives, the task is pending with the URL's expiry.

alter table tasks
    -- When the presigned upload URL expires; null for tasks whose file came through the API.
    add column upload_expires_at timestamptz;

-- The sweeper's query: direct uploads still waiting after their URL expired.
create index tasks_pending_upload_expires_idx on tasks (upload_expires_at)
    where status = 'PENDING' and upload_expires_at is not null;

-- The sweeper's query: tasks in progress for too long, whatever brought them there (a direct
-- upload has no outbox job, so 0005's index on the job's send time no longer serves).
create index tasks_in_progress_updated_at_idx on tasks (updated_at) where status = 'IN_PROGRESS';
drop index outbox_jobs_sent_at_idx;
