-- What the file processor found: the headline figures beside the task, the full result in S3.

alter table tasks
    -- When processing finished successfully; null until then and for a cancelled task.
    add column completed_at timestamptz,
    -- The full result: s3://bucket/<prefix>/results/<task_id>.json.
    add column result_path text,
    -- Why the task was cancelled, in words a writer can read.
    add column error text check (length(error) <= 1000),
    -- Detected from the bytes, never the client's word.
    add column detected_content_type text,
    add column sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
    add column line_count bigint check (line_count >= 0),
    add column word_count bigint check (word_count >= 0),
    add column character_count bigint check (character_count >= 0),
    add column reading_minutes double precision check (reading_minutes >= 0),
    -- A completed task with a file has its result; a cancelled one has none.
    add constraint tasks_completed_has_result
        check (status <> 'COMPLETED' or file_path is null
               or (completed_at is not null and result_path is not null)),
    add constraint tasks_cancelled_has_no_result
        check (status <> 'CANCELLED' or result_path is null);

-- The sweeper's query: jobs sent long ago whose task is still in progress.
create index outbox_jobs_sent_at_idx on outbox_jobs (sent_at) where sent_at is not null;
