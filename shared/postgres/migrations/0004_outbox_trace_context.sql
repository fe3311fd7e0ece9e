-- The trace context of the request that accepted a send (docs/observability.md, "Following one
-- send"), kept with its outbox row so that whoever publishes the message, at once or minutes
-- later, sends it on in the message attributes and the worker joins the same trace. NULL: none
-- (tracing off, or a row written before this column).
ALTER TABLE outbox_messages ADD COLUMN trace_context text;
