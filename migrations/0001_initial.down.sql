-- Reverts 0001: back to an empty schema (`migrate down --to base`).
drop table tasks;
drop type task_status;
drop table users;
drop function maintain_timestamps();
