-- Server-side sessions, so logout and refresh-token theft can end a session for real.

-- One row per login: every token issued in it carries its id (`sid`). Revoking the row refuses
-- the access token and the whole refresh-token family at once.
create table sessions (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    -- The family's end: the last refresh token issued in it expires then.
    expires_at timestamptz not null,
    revoked_at timestamptz,
    revoked_reason text check (revoked_reason in ('logout', 'refresh_token_reuse'))
);
create index sessions_user_id_idx on sessions (user_id);
-- The sweeper purges expired sessions by this.
create index sessions_expires_at_idx on sessions (expires_at);

-- Refresh tokens by the SHA-256 of their `jti`: a database leak yields nothing to present.
create table refresh_tokens (
    token_hash bytea primary key check (length(token_hash) = 32),
    session_id uuid not null references sessions (id) on delete cascade,
    issued_at timestamptz not null default now(),
    expires_at timestamptz not null,
    -- Set when rotated: presenting it again means it was stolen.
    used_at timestamptz
);
create index refresh_tokens_session_id_idx on refresh_tokens (session_id);

-- Failed logins and registrations, for the lockout and the per-address limits. Kept in Postgres
-- so the limits hold across Lambda instances.
create table auth_attempts (
    id bigint generated always as identity primary key,
    kind text not null check (kind in ('login_failed', 'register')),
    -- The submitted email, normalised, whether or not an account has it.
    email text,
    source_ip text not null,
    attempted_at timestamptz not null default now()
);
create index auth_attempts_email_idx on auth_attempts (email, attempted_at) where kind = 'login_failed';
create index auth_attempts_source_ip_idx on auth_attempts (source_ip, kind, attempted_at);
create index auth_attempts_attempted_at_idx on auth_attempts (attempted_at);
