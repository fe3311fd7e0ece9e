-- A gift's history (docs/runbook.md, "A gift's history"): one row per status change, written in
-- the same transaction as the change, never updated or deleted. from_status is NULL for the
-- creation; from_status = to_status records a re-enqueue that changed no status (`giftctl
-- reconcile --apply`). actor is the kind of actor; actor_name says who when a person acted.
CREATE TABLE gift_events (
    id          bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gift_id     uuid         NOT NULL REFERENCES gifts (id),
    from_status varchar(20)  CHECK (from_status IN ('CREATED', 'QUEUED', 'SENT', 'FAILED')),
    to_status   varchar(20)  NOT NULL CHECK (to_status IN ('CREATED', 'QUEUED', 'SENT', 'FAILED')),
    actor       varchar(20)  NOT NULL CHECK (actor IN ('api', 'worker', 'reconciler', 'operator')),
    actor_name  text,
    reason      text,
    request_id  varchar(255),
    at          timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX gift_events_gift_id_idx ON gift_events (gift_id, id);

CREATE FUNCTION gift_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gift_events is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER gift_events_append_only BEFORE UPDATE OR DELETE ON gift_events
    FOR EACH STATEMENT EXECUTE FUNCTION gift_events_append_only();

-- How many operator retries the send request has had. A retry is a new attempt series: its queue
-- message carries this number ("retry"), so a message of an earlier series still lying in the
-- DLQ is recognised as superseded and can never fail the retried gift.
ALTER TABLE send_requests ADD COLUMN retries integer NOT NULL DEFAULT 0;

-- DLQ messages the worker's reconciler has settled, so it decides about each message once and
-- leaves it visible for operators (`giftctl dlq list`, `retry`) instead of hiding it. Rows older
-- than the DLQ's retention (14 days) are deleted by the reconciler.
CREATE TABLE dlq_settled (
    message_id  text         PRIMARY KEY,
    gift_id     uuid,
    request_id  varchar(255),
    outcome     varchar(20)  NOT NULL
                CHECK (outcome IN ('failed', 'already_final', 'superseded', 'unknown', 'invalid')),
    settled_at  timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX dlq_settled_settled_at_idx ON dlq_settled (settled_at);
