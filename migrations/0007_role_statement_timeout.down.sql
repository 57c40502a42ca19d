do $$
begin
    execute format('alter role %I in database %I reset statement_timeout',
                   current_user, current_database());
end
$$;
