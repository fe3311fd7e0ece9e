package gift

// Settlement is what the DLQ reconciler decided about one DLQ message (dlq_settled.outcome). The
// store's SettleDLQMessage decides it; the reconciler and giftctl read it.
type Settlement string

// The settlements of a DLQ message.
const (
	// SettledFailed: the gift was still QUEUED under this message's send request and attempt
	// series, with every attempt of the series begun; the reconciler moved it to FAILED.
	SettledFailed Settlement = "failed"
	// SettledRequeued: the gift was still QUEUED under this message's send request and series with
	// attempts left (the message's receives ran out, not its attempts: an outage, a shutdown); the
	// reconciler queued the message again through the outbox and deleted the DLQ copy.
	SettledRequeued Settlement = "requeued"
	// SettledAlreadyFinal: the gift was SENT or FAILED already (the worker copies the last attempt's
	// message to the DLQ before it stores FAILED).
	SettledAlreadyFinal Settlement = "already_final"
	// SettledSuperseded: the message belongs to an earlier attempt series (an operator has
	// retried the gift since); it must never touch the gift again.
	SettledSuperseded Settlement = "superseded"
	// SettledUnknown: no such gift, or no such send request for it.
	SettledUnknown Settlement = "unknown"
	// SettledInvalid: the body is not a send request.
	SettledInvalid Settlement = "invalid"
)

// ReachedDLQ is how the reconciler found the gifts it fails (ExhaustedReason).
const ReachedDLQ = "the message reached the dead-letter queue while the gift was still QUEUED"
