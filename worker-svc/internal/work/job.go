package work

import (
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// Log fields of a message's lines (docs/observability.md).
const (
	keySeries  = "series"  // the message's attempt series ("retry")
	KeyAttempt = "attempt" // the database's attempt number, once the attempt began
)

// Job is one received message in hand: the send request it carries, its logger, which gains the
// attempt number once the attempt has begun, and that attempt, whose lease the caller's heartbeat
// renews while it runs.
type Job struct {
	Received queue.Received
	Msg      queue.Message // zero when the body is not a send request
	Start    time.Time     // when the message was received
	parseErr error
	// token names this job when it begins an attempt, so that beginning again after a lost answer
	// returns the same attempt.
	token uuid.UUID

	mu      sync.Mutex
	log     *slog.Logger
	attempt gift.Attempt // Number 0: none began
	running bool         // the attempt's lease is held (it has not ended)
}

// NewJob parses received m, received at start; its lines are logged to log, with the send
// request's gift_id, request_id and series once parsed, and the correlation_id of the API request
// that accepted it when the message carries one (every delivery of the message: the same id).
func NewJob(m queue.Received, start time.Time, log *slog.Logger) *Job {
	msg, err := queue.Parse([]byte(m.Body))
	if err == nil {
		log = log.With(slog.String(logging.KeyGiftID, msg.GiftID.String()), slog.String(logging.KeyRequestID, msg.RequestID),
			slog.Int(keySeries, msg.Retry), logging.Correlation(msg.CorrelationID))
	}
	return &Job{Received: m, Msg: msg, Start: start, parseErr: err, token: uuid.New(), log: log}
}

// Logger returns the job's logger.
func (j *Job) Logger() *slog.Logger {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.log
}

// began records the attempt a that this job has begun.
func (j *Job) began(a gift.Attempt) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.attempt, j.running = a, true
	j.log = j.log.With(slog.Int(KeyAttempt, a.Number))
}

// ended records that the attempt's lease is no longer held.
func (j *Job) ended() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.running = false
}

// Leased returns the attempt whose lease this job holds, if any.
func (j *Job) Leased() (gift.Attempt, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.attempt, j.running
}

// AttemptNumber returns the number of the attempt this job began, 0 if none.
func (j *Job) AttemptNumber() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.attempt.Number
}

func (j *Job) series() gift.Series {
	return gift.Series{GiftID: j.Msg.GiftID, RequestID: j.Msg.RequestID, Retry: j.Msg.Retry}
}
