-- Accounts a person manages: profile, password, devices, reset by email, deletion, administrators.
-- Expand-only: the release before this one runs on it unchanged.

-- The devices list: when each session was last refreshed, and what it signed in from.
alter table sessions
    add column last_used_at timestamptz,
    add column user_agent text check (length(user_agent) <= 512);
update sessions set last_used_at = created_at;
alter table sessions drop constraint sessions_revoked_reason_check;
alter table sessions add constraint sessions_revoked_reason_check check (revoked_reason in (
    'logout', 'refresh_token_reuse', 'signed_out', 'password_changed', 'password_reset',
    'deactivated'));
-- The live sessions of one user, newest use first (the devices list).
create index sessions_user_live_idx on sessions (user_id, last_used_at desc) where revoked_at is null;

-- The administrators' users table shows the last login. A sign-in is not an edit: updated_at
-- keeps meaning that the account changed.
alter table users add column last_login_at timestamptz;
drop trigger users_maintain_timestamps on users;
create trigger users_maintain_timestamps
    before update on users
    for each row
    when ((old.email, old.username, old.hashed_password, old.full_name, old.is_active,
           old.is_superuser, old.time_zone, old.created_at)
          is distinct from
          (new.email, new.username, new.hashed_password, new.full_name, new.is_active,
           new.is_superuser, new.time_zone, new.created_at))
    execute function maintain_timestamps();

-- Forgotten passwords: the request records only what was asked, in an outbox; the sweeper looks
-- the account up and mails the link, so no answer, nor its timing, depends on the account.
create table password_reset_requests (
    id bigint generated always as identity primary key,
    -- The submitted email, normalised, whether or not an account has it.
    email text not null,
    source_ip text not null,
    requested_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    -- When the sweeper settled it: mailed, or found no active account.
    settled_at timestamptz,
    outcome text check (outcome in ('sent', 'no_account', 'given_up'))
);
-- The sweeper's work, oldest first.
create index password_reset_requests_due_idx on password_reset_requests (next_attempt_at)
    where settled_at is null;
-- The limits per email and per address.
create index password_reset_requests_email_idx on password_reset_requests (email, requested_at);
create index password_reset_requests_source_ip_idx on password_reset_requests (source_ip, requested_at);

-- At most one live reset token per user: issuing a newer one replaces it, using it deletes it.
-- Only the SHA-256 of the token is kept, so a database leak yields nothing to present.
create table password_reset_tokens (
    user_id uuid primary key references users (id) on delete cascade,
    token_hash bytea not null unique check (length(token_hash) = 32),
    created_at timestamptz not null,
    expires_at timestamptz not null
);

-- What administrators did. Plain ids, no foreign keys: when a user is deleted, the entries about
-- them (or by them) keep only the id. `actor_id` is null for the operator's `migrate promote`.
create table admin_audit (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor_id uuid,
    action text not null check (action in ('activate', 'deactivate', 'promote', 'demote')),
    target_id uuid not null
);
create index admin_audit_at_idx on admin_audit (at desc, id desc);
