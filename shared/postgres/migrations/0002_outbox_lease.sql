-- The outbox relay leases rows instead of holding a transaction open across SQS calls
-- (docs/architecture.md, "Decision: the relay leases rows"). A claim sets claim_token and pushes
-- available_at to the end of the lease in one short statement; the relay then publishes outside
-- any transaction and deletes what SQS accepted. available_at is therefore the row's next
-- attempt in every state: the immediate publish's head start after insert, the lease while a
-- relay holds the row, the per-row backoff after a failed attempt. A relay that dies mid-lease
-- only delays its rows until the lease ends.
ALTER TABLE outbox_messages ADD COLUMN claim_token uuid;
COMMENT ON COLUMN outbox_messages.available_at IS
    'next attempt: head start of the immediate publish, end of a relay''s lease, or backoff after a failure';
COMMENT ON COLUMN outbox_messages.claim_token IS
    'the relay claim that holds the row until available_at; NULL when no relay holds it';
