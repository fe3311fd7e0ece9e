-- API clients and their keys (docs/architecture.md, "Authentication of API clients"). Every gift
-- belongs to the client that created it; a client sees and sends only its own.
--
-- api_clients: one row per client team. rate_per_second and burst are its token bucket in each
-- API task (docs/clients-2.0.md, "Rate limits"); giftctl sets them.
CREATE TABLE api_clients (
    id              uuid             PRIMARY KEY,
    name            varchar(100)     NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,99}$'),
    rate_per_second double precision NOT NULL DEFAULT 50 CHECK (rate_per_second > 0),
    burst           integer          NOT NULL DEFAULT 100 CHECK (burst >= 1),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    created_by      text             NOT NULL
);

-- The gifts created before clients existed (API 1.x) belong to this client. It has no key, so
-- nobody reads them through the API any more; operators still do through giftctl.
INSERT INTO api_clients (id, name, created_by)
VALUES ('00000000-0000-7000-8000-000000000000', 'legacy', 'migration 0007');

-- api_keys: id is the public part of a key (gk_<id>_<secret>), shown in giftctl and logs; only
-- the SHA-256 of the secret is stored. A client has at most two active keys (slot 1 and 2), so a
-- key is rotated by issuing the second, moving the callers, then revoking the first.
CREATE TABLE api_keys (
    id          char(8)     PRIMARY KEY CHECK (id ~ '^[0-9a-f]{8}$'),
    client_id   uuid        NOT NULL REFERENCES api_clients (id),
    secret_hash bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    slot        smallint    NOT NULL CHECK (slot IN (1, 2)),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE UNIQUE INDEX api_keys_active_slot_idx ON api_keys (client_id, slot) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_client_id_idx ON api_keys (client_id);

-- What operators did to clients and keys, with who did it (giftctl's identity); append-only like
-- gift_events.
CREATE TABLE api_client_events (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id uuid        NOT NULL REFERENCES api_clients (id),
    key_id    char(8)     REFERENCES api_keys (id),
    action    varchar(20) NOT NULL CHECK (action IN ('client.create', 'client.limits', 'key.issue', 'key.revoke')),
    detail    text,
    actor     text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_client_events_client_id_idx ON api_client_events (client_id, id);
CREATE TRIGGER api_client_events_append_only BEFORE UPDATE OR DELETE ON api_client_events
    FOR EACH STATEMENT EXECUTE FUNCTION gift_events_append_only();

-- Ownership. The default keeps API 1.x tasks that are still draining during the 2.0 rollout
-- writing (their gifts go to the legacy client); 2.x always names the client. A constant default
-- adds the column without rewriting the table.
ALTER TABLE gifts ADD COLUMN client_id uuid NOT NULL DEFAULT '00000000-0000-7000-8000-000000000000'
    REFERENCES api_clients (id);
-- GET /gifts: a client's gifts newest first (UUIDv7 ids are time-ordered), the cursor being the
-- last id of a page; the status and creation-time filters are applied along this index.
CREATE INDEX gifts_client_id_id_idx ON gifts (client_id, id);

-- An Idempotency-Key is the client's own: two clients may use the same key.
ALTER TABLE create_requests ADD COLUMN client_id uuid NOT NULL DEFAULT '00000000-0000-7000-8000-000000000000'
    REFERENCES api_clients (id);
ALTER TABLE create_requests DROP CONSTRAINT create_requests_pkey,
    ADD PRIMARY KEY (client_id, idempotency_key);
