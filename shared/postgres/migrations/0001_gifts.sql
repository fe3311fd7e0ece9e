-- Gifts and their send requests (requirements 4.3). Timestamps are timestamptz: one instant,
-- whatever the session's time zone.
CREATE TABLE gifts (
    id         uuid         PRIMARY KEY,
    code       varchar(64)  NOT NULL UNIQUE,
    amount     integer      NOT NULL CHECK (amount > 0),
    message    varchar(500),
    status     varchar(20)  NOT NULL DEFAULT 'CREATED'
               CHECK (status IN ('CREATED', 'QUEUED', 'SENT', 'FAILED')),
    last_error text,
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now()
);

-- One row per accepted send, keyed by the client's Idempotency-Key (request_id). response_body is
-- the exact body of the first 202, replayed byte for byte on a retry with the same key.
CREATE TABLE send_requests (
    gift_id       uuid         NOT NULL REFERENCES gifts (id),
    request_id    varchar(255) NOT NULL,
    force_failure boolean      NOT NULL DEFAULT false,
    response_body bytea        NOT NULL,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (gift_id, request_id)
);

-- Transactional outbox: the queue message is written in the same transaction that queues the gift,
-- and deleted once SQS has accepted it. A row here is a send that SQS has not confirmed yet.
CREATE TABLE outbox_messages (
    id           bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gift_id      uuid         NOT NULL,
    request_id   varchar(255) NOT NULL,
    body         text         NOT NULL,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    -- the relay leaves a row alone until then: the API's own publish right after commit goes first
    available_at timestamptz  NOT NULL DEFAULT now(),
    attempts     integer      NOT NULL DEFAULT 0,
    last_error   text,
    FOREIGN KEY (gift_id, request_id) REFERENCES send_requests (gift_id, request_id)
);
CREATE INDEX outbox_messages_available_at_idx ON outbox_messages (available_at);
