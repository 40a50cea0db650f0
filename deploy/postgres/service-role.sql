-- One service's role and database: the role, named like the database, logs in with its password,
-- owns that database and nothing else, and nobody else may connect to it (least privilege:
-- svc-notify cannot even open svc-tasks' database). Shared by `make up` (deploy/up.sh
-- pg_create_databases) and the compose stack (deploy/compose/postgres-init.sh, run on a new
-- volume and again by deploy/compose/run.sh at every `make compose-up`, so a volume made before
-- the roles gets them). Idempotent; run as a superuser, connected to any database but this one:
--
--   TASKFLOW_ROLE_PASSWORD=… psql -v role=taskflow_tasks -f service-role.sql
--
-- The password comes from the environment (\getenv, psql 15), not a command line `ps` shows.
-- It is set on every run: a password changed in the env file takes effect at the next start.
\set ON_ERROR_STOP 1
\if :{?role}
\else
  DO $$ BEGIN RAISE EXCEPTION 'service-role.sql: give the role with -v role=NAME'; END $$;
\endif
\getenv password TASKFLOW_ROLE_PASSWORD
\if :{?password}
\else
  \set password ''
\endif
SELECT :'password' = '' AS no_password \gset
\if :no_password
  -- An error, so that psql (ON_ERROR_STOP) exits non-zero.
  DO $$ BEGIN RAISE EXCEPTION 'service-role.sql: TASKFLOW_ROLE_PASSWORD is not set'; END $$;
\endif
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'role') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'role', :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec

-- A database made before the role existed (or filled while the services connected as the
-- superuser) keeps its tables owned by whoever made them: hand them to the service's role
-- (nothing to do on later runs).
\connect :"role"
SET client_min_messages = warning;
DO $$
DECLARE
    stmt text;
BEGIN
    FOR stmt IN
        SELECT format('ALTER %s %s OWNER TO %I',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                      c.oid::regclass, current_database())
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
          AND pg_get_userbyid(c.relowner) <> current_database()
          -- A table's own sequences follow the table.
          AND NOT (c.relkind = 'S' AND EXISTS (
                SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, current_database())
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> current_database()
    LOOP
        EXECUTE stmt;
    END LOOP;
END
$$;
