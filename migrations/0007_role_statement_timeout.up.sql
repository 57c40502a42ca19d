-- Every query of the application's role in this database is cut off after 15 s, set on the role
-- (not per connection) so it holds for every pool, RDS Proxy included. A Lambda behind API
-- Gateway has 30 s at most; a query still running after 15 s is a bug or an outage, and should
-- free its connection. `migrate` turns it off for its own session (db::connect_once).
do $$
begin
    execute format('alter role %I in database %I set statement_timeout = %L',
                   current_user, current_database(), '15s');
end
$$;
