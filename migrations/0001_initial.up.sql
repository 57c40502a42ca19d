-- The seed's first Alembic revision: users and tasks, without tasks.file_path (added by 0002).

-- One trigger function for every table: the database, not the application, keeps
-- created_at fixed and updated_at current, whoever writes the row.
create function maintain_timestamps() returns trigger
language plpgsql as $$
begin
    new.created_at := old.created_at;
    new.updated_at := now();
    return new;
end;
$$;

create table users (
    id uuid primary key default gen_random_uuid(),
    -- Stored lowercase (the API normalises it); the check keeps other writers honest.
    email varchar(320) not null check (email = lower(email)),
    username varchar(100) not null,
    hashed_password text not null,
    full_name varchar(255),
    is_active boolean not null default true,
    is_superuser boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Unique case-insensitively: "Alice" and "alice" are one account name, never two.
create unique index users_email_key on users (lower(email));
create unique index users_username_key on users (lower(username));

create trigger users_maintain_timestamps
    before update on users
    for each row execute function maintain_timestamps();

-- The seed's enum, with its member names as SQLAlchemy stores them; the API sends them lowercase.
create type task_status as enum ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED');

create table tasks (
    id uuid primary key default gen_random_uuid(),
    title varchar(255) not null check (length(btrim(title)) between 1 and 255),
    description text check (length(description) <= 10000),
    status task_status not null default 'PENDING',
    user_id uuid not null references users (id) on delete cascade,
    due_date timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- The list endpoint: the owner's tasks, newest first (id breaks ties in one millisecond).
create index tasks_user_id_created_at_idx on tasks (user_id, created_at desc, id desc);
-- The list endpoint with status_filter, in the same order.
create index tasks_user_id_status_created_at_idx on tasks (user_id, status, created_at desc, id desc);

create trigger tasks_maintain_timestamps
    before update on tasks
    for each row execute function maintain_timestamps();
