-- Reverts 0011.
drop table task_creation_allowance;
drop trigger users_forget_task_counts on users;
drop function forget_task_counts();
drop trigger tasks_count_moves on tasks;
drop trigger tasks_count_inserts_deletes on tasks;
drop function count_tasks();
drop table task_counts;
