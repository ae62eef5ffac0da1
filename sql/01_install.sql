-- The SQL surface: schema, tables, functions and their result types.
CREATE EXTENSION recovery;
SELECT extname, extversion, extrelocatable, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'recovery';

-- Every function pins its search_path.
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       pg_get_function_result(p.oid) AS result, p.prosecdef AS security_definer,
       p.proconfig
FROM pg_proc p WHERE p.pronamespace = 'recovery'::regnamespace
ORDER BY p.proname;

-- Registrations and history survive pg_dump.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
JOIN pg_class c ON c.oid = cfg.oid WHERE e.extname = 'recovery' ORDER BY 1;

-- Anyone may read them; only recovery's functions write them.
SELECT table_name, privilege_type FROM information_schema.role_table_grants
WHERE table_schema = 'recovery' AND grantee = 'PUBLIC' ORDER BY 1, 2;

-- A helper for the error cases of the following files: what a statement raised.
CREATE SCHEMA test;
GRANT USAGE ON SCHEMA test TO PUBLIC;
CREATE FUNCTION test.try(statement text, OUT code text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    code := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END $$;
-- Roles are cluster-wide: start clean when the suite runs twice on one server.
SET client_min_messages = warning;
DROP ROLE IF EXISTS recovery_stranger;
DROP ROLE IF EXISTS recovery_reader;
DROP ROLE IF EXISTS recovery_nobody;
RESET client_min_messages;
