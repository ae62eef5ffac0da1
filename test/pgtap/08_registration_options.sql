-- The registration field table (registry/options.hpp) is the one description
-- of watch()'s options: tied here to the function's arguments and to the
-- columns of recovery.watched_tables, so neither can drift from it.
BEGIN;
SELECT plan(3);

SELECT is((SELECT array_agg(o.name ORDER BY o.ord) FROM recovery.registration_options() WITH ORDINALITY AS o(name, type, stored, ord)),
          (SELECT proargnames[2:] FROM pg_proc WHERE oid = 'recovery.watch'::regproc),
          'the field table lists watch()''s arguments after run_table, in order');
SELECT is((SELECT array_agg(o.type ORDER BY o.ord) FROM recovery.registration_options() WITH ORDINALITY AS o(name, type, stored, ord)),
          (SELECT array_agg(format_type(u.t, NULL) ORDER BY u.i)
           FROM pg_proc p, unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(t, i)
           WHERE p.oid = 'recovery.watch'::regproc AND u.i > 1),
          'with their types');
SELECT set_eq($$SELECT name, type FROM recovery.registration_options() WHERE stored$$,
              $$SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute
                WHERE attrelid = 'recovery.watched_tables'::regclass AND attnum > 0 AND NOT attisdropped
                  AND attname NOT IN ('run_table', 'table_name', 'watched_by', 'watched_at')$$,
              'every stored option is a column of recovery.watched_tables of the same name and type, and every other column is the key or bookkeeping');

SELECT * FROM finish();
ROLLBACK;
