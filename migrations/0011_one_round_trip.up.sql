-- Issue 21: reads and creates in one round trip, and a task count that stays cheap at any size.

-- How many tasks each owner has, by trash and status, maintained by the triggers below, so the
-- `total` beside a page is a sum of a few rows instead of a scan of the owner's tasks. Each
-- backend adds to its own slot (its process id modulo 16): two transactions changing one
-- owner's counts at once mostly touch different rows, so a count never serialises a writer's
-- creates, edits or processing. The sum over the slots is exact in every snapshot. No foreign
-- key: a user's deletion cascades to their tasks, whose trigger then finds the user gone and
-- writes nothing, and the users trigger below removes the user's rows.
create table task_counts (
    user_id uuid not null,
    trashed boolean not null,
    status task_status not null,
    slot smallint not null,
    n bigint not null,
    primary key (user_id, trashed, status, slot)
);

insert into task_counts (user_id, trashed, status, slot, n)
select user_id, trashed_at is not null, status, 0, count(*)
from tasks
group by 1, 2, 3;

create function count_tasks() returns trigger
language plpgsql as $$
declare
    backend_slot constant smallint := pg_backend_pid() % 16;
begin
    -- A user's deletion cascades to their tasks after their row is gone: nothing to count.
    if tg_op = 'DELETE' and not exists (select 1 from users where id = old.user_id) then
        return null;
    end if;
    if tg_op in ('UPDATE', 'DELETE') then
        insert into task_counts as c (user_id, trashed, status, slot, n)
        values (old.user_id, old.trashed_at is not null, old.status, backend_slot, -1)
        on conflict (user_id, trashed, status, slot) do update set n = c.n - 1;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into task_counts as c (user_id, trashed, status, slot, n)
        values (new.user_id, new.trashed_at is not null, new.status, backend_slot, 1)
        on conflict (user_id, trashed, status, slot) do update set n = c.n + 1;
    end if;
    return null;
end
$$;

create trigger tasks_count_inserts_deletes
    after insert or delete on tasks
    for each row execute function count_tasks();

create trigger tasks_count_moves
    after update of user_id, status, trashed_at on tasks
    for each row
    when (old.user_id is distinct from new.user_id
          or old.status is distinct from new.status
          or (old.trashed_at is null) is distinct from (new.trashed_at is null))
    execute function count_tasks();

create function forget_task_counts() returns trigger
language plpgsql as $$
begin
    delete from task_counts where user_id = old.id;
    return null;
end
$$;

create trigger users_forget_task_counts
    after delete on users
    for each row execute function forget_task_counts();

-- The creation rate as a generic cell rate algorithm: `next_free_at` is the theoretical arrival
-- time of the user's next task. One upsert checks and takes an allowance, atomically (it locks
-- the user's row and re-reads its latest version), in O(1) however many tasks the user made:
-- the count over the last hour's tasks it replaces grew with them, under an advisory lock.
create table task_creation_allowance (
    user_id uuid primary key references users (id) on delete cascade,
    next_free_at timestamptz not null
);
