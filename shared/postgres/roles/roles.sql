-- The database roles (docs/architecture.md, "Database roles"). Roles belong to the cluster, not to
-- one database, so this runs before the migrations' transaction, idempotently, and is repeated
-- when a concurrent run in another database of the cluster created a role at the same moment.
-- No password is set here: on RDS the services sign in with IAM tokens (role rds_iam); locally the
-- development scripts and the tests set one after migrating.
DO $roles$
DECLARE
    r text;
BEGIN
    -- The owner of every schema object. Nobody signs in as it: the migration user (the RDS master
    -- user, or the local superuser) is a member and runs the migrations.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gift_owner') THEN
        CREATE ROLE gift_owner NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'gift_owner', 'USAGE') THEN
        EXECUTE format('GRANT gift_owner TO %I', current_user);
    END IF;
    -- One login role per program: the API, the worker, the operator's giftctl.
    FOREACH r IN ARRAY ARRAY['gift_api', 'gift_worker', 'gift_operator'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END IF;
        -- rds_iam exists on RDS only: its members sign in with IAM authentication tokens.
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')
           AND NOT pg_has_role(r, 'rds_iam', 'MEMBER') THEN
            EXECUTE format('GRANT rds_iam TO %I', r);
        END IF;
    END LOOP;
END
$roles$;
