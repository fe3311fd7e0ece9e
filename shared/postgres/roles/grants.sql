-- The privileges of each role in this database (docs/architecture.md, "Database roles"). Applied
-- after the versioned migrations on every migrate run, in their transaction and under their
-- advisory lock: it first takes every privilege away from the login roles and PUBLIC and then
-- grants exactly what is listed here, so this file is the whole truth. A migration that adds a
-- table or a column a service uses adds its lines here.

-- The schema: gift_owner creates in it (and must be able to, to be given objects); the login roles
-- only use it; PUBLIC (every other role of the cluster) not even that.
REVOKE ALL ON SCHEMA public FROM PUBLIC, gift_api, gift_worker, gift_operator;
GRANT USAGE, CREATE ON SCHEMA public TO gift_owner;

-- Ownership: every table, sequence and function of the schema belongs to gift_owner (a table's
-- indexes, triggers and identity sequences follow it).
DO $owner$
DECLARE
    o record;
BEGIN
    FOR o IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND c.relowner <> 'gift_owner'::regrole
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO gift_owner', o.name);
    END LOOP;
    FOR o IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
          AND c.relowner <> 'gift_owner'::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO gift_owner', o.name);
    END LOOP;
    FOR o IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> 'gift_owner'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO gift_owner', o.name);
    END LOOP;
END
$owner$;

-- Start from nothing on the objects: no privilege for PUBLIC (functions are executable by PUBLIC
-- by default) nor for the login roles, table and column privileges alike.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, gift_api, gift_worker, gift_operator;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, gift_api, gift_worker, gift_operator;
REVOKE ALL ON ALL ROUTINES IN SCHEMA public FROM PUBLIC, gift_api, gift_worker, gift_operator;
GRANT USAGE ON SCHEMA public TO gift_api, gift_worker, gift_operator;

-- gift_events is append-only for everyone: INSERT (and SELECT where read) only, never UPDATE,
-- DELETE or TRUNCATE. The trigger of migration 0003 refuses UPDATE and DELETE even to the owner;
-- this one refuses TRUNCATE, which row triggers never see.
-- Created once: creating a trigger locks the table against writes, which a deploy should not do
-- every time.
DO $truncate$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'gift_events'::regclass
                   AND tgname = 'gift_events_append_only_truncate') THEN
        CREATE TRIGGER gift_events_append_only_truncate BEFORE TRUNCATE ON gift_events
            FOR EACH STATEMENT EXECUTE FUNCTION gift_events_append_only();
    END IF;
END
$truncate$;

-- gift_api: POST /gifts, GET /gifts/{id}, POST /gifts/{id}/send (send request, status, outbox row
-- and history in one transaction), the outbox dispatcher and relay, outbox-status.
GRANT SELECT, INSERT ON gifts TO gift_api;
GRANT UPDATE (status, updated_at) ON gifts TO gift_api;
GRANT SELECT, INSERT ON send_requests TO gift_api;
GRANT SELECT, INSERT, DELETE ON outbox_messages TO gift_api;
GRANT UPDATE (claim_token, available_at, attempts, last_error) ON outbox_messages TO gift_api;
GRANT INSERT ON gift_events TO gift_api;
-- create_requests: the key of an idempotent create (one statement with the gift), its replay, and
-- the key pruner's batched DELETE.
GRANT SELECT, INSERT, DELETE ON create_requests TO gift_api;
-- The key check of every request: a key and its client, read only.
GRANT SELECT ON api_keys, api_clients TO gift_api;

-- gift_worker: attempts (begin, renew, end), SENT or FAILED, and the DLQ reconciler (settle a
-- message: fail the gift or queue it again through the outbox; prune old settlements).
GRANT SELECT ON gifts TO gift_worker;
GRANT UPDATE (status, last_error, updated_at) ON gifts TO gift_worker;
GRANT SELECT ON send_requests TO gift_worker;
GRANT UPDATE (attempts, attempt_until, attempt_by) ON send_requests TO gift_worker;
GRANT SELECT (id, gift_id), INSERT ON outbox_messages TO gift_worker;
GRANT INSERT ON gift_events TO gift_worker;
GRANT SELECT, INSERT, DELETE ON dlq_settled TO gift_worker;
GRANT UPDATE (outcome) ON dlq_settled TO gift_worker;

-- gift_operator (giftctl): status, history, retry of a FAILED gift, reconcile --apply, dlq list and
-- redrive. Reads the settlements, never writes them.
GRANT SELECT ON gifts TO gift_operator;
GRANT UPDATE (status, last_error, updated_at) ON gifts TO gift_operator;
GRANT SELECT ON send_requests TO gift_operator;
GRANT UPDATE (force_failure, retries, attempts, attempt_until, attempt_by) ON send_requests TO gift_operator;
GRANT SELECT, INSERT, DELETE ON outbox_messages TO gift_operator;
GRANT SELECT, INSERT ON gift_events TO gift_operator;
GRANT SELECT ON dlq_settled TO gift_operator;
-- Clients and keys: create a client and set its limits, issue, list and revoke keys; every change
-- recorded with its actor in the append-only api_client_events.
GRANT SELECT, INSERT ON api_clients TO gift_operator;
GRANT UPDATE (rate_per_second, burst) ON api_clients TO gift_operator;
GRANT SELECT, INSERT ON api_keys TO gift_operator;
GRANT UPDATE (revoked_at, revoked_by) ON api_keys TO gift_operator;
GRANT SELECT, INSERT ON api_client_events TO gift_operator;
