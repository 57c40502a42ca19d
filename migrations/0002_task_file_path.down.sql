-- Reverts 0002.
alter table tasks drop column file_path;
