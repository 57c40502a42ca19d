-- Reverts 0003: every session ends, every refresh token is forgotten.
drop table auth_attempts;
drop table refresh_tokens;
drop table sessions;
