-- Reverts 0004.
drop table outbox_jobs;
alter table tasks
    drop column file_size,
    drop column file_content_type,
    drop column file_name;
