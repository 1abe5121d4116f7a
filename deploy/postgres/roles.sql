-- The application's role and database, created if missing and reset to the documented
-- facts (role shaobao / password shaobao, LOGIN CREATEDB; database shaobao owned by it).
-- deploy/stack.sh feeds this to psql on stdin as the postgres superuser; the Docker
-- stack runs it from /docker-entrypoint-initdb.d on first boot.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shaobao') THEN
    CREATE ROLE shaobao;
  END IF;
END
$$;
ALTER ROLE shaobao WITH LOGIN CREATEDB NOSUPERUSER PASSWORD 'shaobao';
SELECT 'CREATE DATABASE shaobao OWNER shaobao'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shaobao')\gexec
