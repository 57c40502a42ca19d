-- Reverts 0010.
drop table admin_audit;
drop table password_reset_tokens;
drop table password_reset_requests;
drop trigger users_maintain_timestamps on users;
create trigger users_maintain_timestamps
    before update on users
    for each row execute function maintain_timestamps();
alter table users drop column last_login_at;
drop index sessions_user_live_idx;
update sessions set revoked_reason = 'logout'
    where revoked_reason not in ('logout', 'refresh_token_reuse');
alter table sessions drop constraint sessions_revoked_reason_check;
alter table sessions add constraint sessions_revoked_reason_check
    check (revoked_reason in ('logout', 'refresh_token_reuse'));
alter table sessions drop column user_agent, drop column last_used_at;
