-- Idempotent create (docs/architecture.md, "Decision: idempotent create"). One row per
-- Idempotency-Key a client sent with POST /gifts, written in the statement that creates the gift.
--
-- idempotency_key: the key as gift.ParseIdempotencyKey returns it (the quoted and the bare form
-- are one key). Keys are global today, as there is no client identity yet. When clients get one
-- (issue 18), a migration adds client_id and makes the primary key (client_id, idempotency_key);
-- nothing else here depends on the key being global.
-- fingerprint: SHA-256 of the validated, canonical request (gift.NewGift.Fingerprint); the same key
-- with another fingerprint is refused with 422 IDEMPOTENCY_KEY_REUSED.
-- response_body: the exact bytes of the first 201, replayed byte for byte (Location is rebuilt
-- from gift_id).
-- created_at: the start of the key's retention; the API's pruner deletes rows older than
-- IDEMPOTENCY_KEY_RETENTION (7 days by default) in bounded batches, oldest first.
CREATE TABLE create_requests (
    idempotency_key varchar(255) NOT NULL PRIMARY KEY,
    fingerprint     bytea        NOT NULL CHECK (octet_length(fingerprint) = 32),
    gift_id         uuid         NOT NULL REFERENCES gifts (id),
    response_body   bytea        NOT NULL,
    created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX create_requests_created_at_idx ON create_requests (created_at);
COMMENT ON TABLE create_requests IS 'Idempotency-Keys of POST /gifts, kept for IDEMPOTENCY_KEY_RETENTION then pruned by the API';
