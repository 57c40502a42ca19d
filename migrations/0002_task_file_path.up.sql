-- The seed's second Alembic revision: where a task's uploaded file is stored.
-- An s3://bucket/key URL here (the seed stored a path under STORAGE_ROOT/uploads/).
alter table tasks add column file_path text;
