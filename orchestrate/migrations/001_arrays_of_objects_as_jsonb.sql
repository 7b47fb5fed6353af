-- Raw arrays of objects: jsonb[] -> one jsonb array per value.
--
-- Needed once by a database loaded before meltano.yml's `schema` override on tap-usajobs
-- (docs/runbook.md, "Upgrading"). Until it runs, target-postgres stops the first load with
-- "malformed array literal" and commits nothing. It converts every jsonb[] column of the
-- raw schema in place (to_jsonb keeps the elements and their order) and is safe to run
-- again: a second run finds no jsonb[] column left.
--
--   psql -v ON_ERROR_STOP=1 -f orchestrate/migrations/001_arrays_of_objects_as_jsonb.sql
--
-- The raw schema is `usajobs`, or whatever PGOPTIONS='-c usajobs.raw_schema=<schema>' says
-- (the target's default_target_schema). Run it when no load is running: ALTER TABLE takes an
-- exclusive lock and rewrites each table.

do $migration$
declare
    raw_schema text := coalesce(nullif(current_setting('usajobs.raw_schema', true), ''), 'usajobs');
    col record;
begin
    for col in
        select c.table_name, c.column_name
        from information_schema.columns as c
        inner join information_schema.tables as t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = raw_schema
            and t.table_type = 'BASE TABLE'
            and c.data_type = 'ARRAY'
            and c.udt_name = '_jsonb'
        order by c.table_name, c.ordinal_position
    loop
        execute format(
            'alter table %I.%I alter column %I type jsonb using to_jsonb(%I)',
            raw_schema, col.table_name, col.column_name, col.column_name
        );
        raise notice 'converted %.%.% from jsonb[] to jsonb', raw_schema, col.table_name, col.column_name;
    end loop;
end
$migration$;
