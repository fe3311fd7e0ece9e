// Package gifts is the Gift API's application layer: the use cases (create, read, send) on top of
// the domain rules and the store.
package gifts

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Store is what the use cases need from the database (postgres.Store).
type Store interface {
	CreateGift(ctx context.Context, g gift.Gift) error
	CreateGiftOnce(ctx context.Context, g gift.Gift, key gift.CreateKey, response []byte) (gift.CreateOutcome, error)
	GetClientGift(ctx context.Context, clientID, id uuid.UUID) (gift.Gift, error)
	ListGifts(ctx context.Context, q gift.ListQuery) (gift.Page, error)
	Send(ctx context.Context, req gift.SendRequest, response, message []byte, claim gift.OutboxClaim) (gift.SendOutcome, error)
}

// Dispatcher publishes a freshly committed outbox message right away (outbox.Dispatcher): Claim
// before the transaction (the lease written with the row), then Dispatch after commit, or Cancel.
type Dispatcher interface {
	Claim() gift.OutboxClaim
	Cancel(claim gift.OutboxClaim)
	Dispatch(ctx context.Context, claim gift.OutboxClaim, outboxID int64, body string, giftID uuid.UUID, requestID string, trace tracing.Carrier)
}

// Service runs the use cases.
type Service struct {
	store      Store
	dispatcher Dispatcher
	log        *slog.Logger
	now        func() time.Time
}

// NewService returns the use cases over store, publishing accepted sends through dispatcher.
func NewService(store Store, dispatcher Dispatcher, log *slog.Logger) *Service {
	return &Service{store: store, dispatcher: dispatcher, log: log, now: time.Now}
}

// Create validates and stores a new gift of client clientID.
func (s *Service) Create(ctx context.Context, clientID uuid.UUID, n gift.NewGift) (gift.Gift, error) {
	g, err := gift.New(clientID, n, s.now())
	if err != nil {
		return gift.Gift{}, err
	}
	if err := s.store.CreateGift(ctx, g); err != nil {
		return gift.Gift{}, err
	}
	return g, nil
}

// CreateResult is the outcome of a create with an Idempotency-Key.
type CreateResult struct {
	GiftID uuid.UUID
	// Body is the response body: the one rendered now on the first create, the stored one on
	// replay.
	Body     []byte
	Replayed bool
}

// CreateOnce validates and stores a new gift under the client's Idempotency-Key (as
// gift.ParseIdempotencyKey returns it), or replays the create that key made. render gives the
// body of the 201, stored with the key so that a replay is byte for byte the first answer. The
// same key with a different request is gift.ErrIdempotencyKeyReused. Keys are the client's own.
func (s *Service) CreateOnce(ctx context.Context, clientID uuid.UUID, n gift.NewGift, key string, render func(gift.Gift) ([]byte, error)) (CreateResult, error) {
	g, err := gift.New(clientID, n, s.now())
	if err != nil {
		return CreateResult{}, err
	}
	fingerprint, err := n.Fingerprint()
	if err != nil {
		return CreateResult{}, err
	}
	body, err := render(g)
	if err != nil {
		return CreateResult{}, err
	}
	out, err := s.store.CreateGiftOnce(ctx, g, gift.CreateKey{Key: key, Fingerprint: fingerprint}, body)
	if err != nil {
		return CreateResult{}, err
	}
	return CreateResult{GiftID: out.GiftID, Body: out.Response, Replayed: out.Replayed}, nil
}

// Get reads a gift of client clientID; another client's gift is gift.ErrNotFound.
func (s *Service) Get(ctx context.Context, clientID, id uuid.UUID) (gift.Gift, error) {
	return s.store.GetClientGift(ctx, clientID, id)
}

// List reads a page of the client's gifts, newest first.
func (s *Service) List(ctx context.Context, q gift.ListQuery) (gift.Page, error) {
	if q.Limit < gift.MinListLimit || q.Limit > gift.MaxListLimit {
		return gift.Page{}, gift.Invalidf("limit must be between %d and %d", gift.MinListLimit, gift.MaxListLimit)
	}
	return s.store.ListGifts(ctx, q)
}

// SendResult is the outcome of a send request.
type SendResult struct {
	// Body is the response body: the one given now on first acceptance, the stored one on replay.
	Body     []byte
	Replayed bool
}

// Send accepts a send request idempotently. firstResponse is the body to answer with, and to store
// for replays, if this is the first acceptance of (gift, key). The queue message is committed with
// the status change (outbox) and then published at once; should that publish fail, the relay
// delivers it later, so an accepted send is never lost.
func (s *Service) Send(ctx context.Context, req gift.SendRequest, firstResponse []byte) (SendResult, error) {
	if err := gift.ValidateIdempotencyKey(req.RequestID); err != nil {
		return SendResult{}, err
	}
	// The message carries the accepting request's correlation id: the worker's lines of this send
	// name the request the client was answered for (docs/observability.md).
	msg, err := queue.Message{GiftID: req.GiftID, RequestID: req.RequestID, ForceFailure: req.ForceFailure, AcceptedAt: s.now().UTC(),
		CorrelationID: correlation.From(ctx)}.Marshal()
	if err != nil {
		return SendResult{}, err
	}
	// The dispatcher's lease is taken before the transaction and written with the outbox row, so
	// the relay cannot publish the row while the dispatcher may (docs/architecture.md).
	claim := s.dispatcher.Claim()
	out, err := s.store.Send(ctx, req, firstResponse, msg, claim)
	if err != nil {
		s.dispatcher.Cancel(claim)
		return SendResult{}, fmt.Errorf("accept send of gift %s: %w", req.GiftID, err)
	}
	if out.Replayed {
		s.dispatcher.Cancel(claim)
		return SendResult{Body: out.Response, Replayed: true}, nil
	}
	s.log.InfoContext(ctx, "send accepted", logging.KeyStatus, gift.StatusQueued,
		logging.KeyGiftID, req.GiftID, logging.KeyRequestID, req.RequestID, "force_failure", req.ForceFailure)
	s.dispatcher.Dispatch(ctx, claim, out.OutboxID, string(msg), req.GiftID, req.RequestID, tracing.Carrier(out.TraceContext))
	return SendResult{Body: out.Response}, nil
}
