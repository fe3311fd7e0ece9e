-- Attempts counted where they run (docs/architecture.md, "Decision: the series decides, attempts
-- are counted where they run"). SQS's ApproximateReceiveCount counts receives, not attempts: a
-- message held through a database outage and released at shutdown is received again without any
-- send having been tried. The worker therefore counts the attempts it begins here, per series.
--
-- attempts: attempts begun in the current series (send_requests.retries); an operator retry sets
-- it back to 0 together with retries + 1. An attempt begins with one conditional UPDATE that needs
-- the gift QUEUED, the message's request and series, fewer than the configured attempts, and no
-- live lease; an attempt that crashed while running has begun, so it counts.
-- attempt_until: the lease of the attempt that is running (NULL or past: none). Its length is the
-- worker's visibility timeout, renewed by the message's heartbeat; at most one attempt of a gift
-- runs at a time, even when two copies of its message are delivered at once.
ALTER TABLE send_requests ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE send_requests ADD COLUMN attempt_until timestamptz;
-- attempt_by: the delivery (a token the worker draws per message in hand) that began the latest
-- attempt. Beginning is repeated when its answer was lost (the connection died after the commit):
-- the same delivery gets the same attempt back instead of counting one that never ran.
ALTER TABLE send_requests ADD COLUMN attempt_by uuid;
COMMENT ON COLUMN send_requests.attempts IS 'attempts begun in the current series (retries); reset by an operator retry';
COMMENT ON COLUMN send_requests.attempt_until IS 'lease of the attempt running now; NULL or past: none is running';

-- requeued: a DLQ message of the current series whose gift is QUEUED with attempts left (its
-- message only went round: receives spent without attempts); the reconciler queued it again
-- through the outbox instead of failing it.
ALTER TABLE dlq_settled DROP CONSTRAINT dlq_settled_outcome_check;
ALTER TABLE dlq_settled ADD CONSTRAINT dlq_settled_outcome_check
    CHECK (outcome IN ('failed', 'already_final', 'superseded', 'unknown', 'invalid', 'requeued'));
