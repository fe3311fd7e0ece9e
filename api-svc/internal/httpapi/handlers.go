package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

var _ StrictServerInterface = (*server)(nil)

// CreateGift implements POST /gifts.
func (s *server) CreateGift(ctx context.Context, req CreateGiftRequestObject) (CreateGiftResponseObject, error) {
	if req.Body == nil {
		return nil, validationError("request body is required")
	}
	n := gift.NewGift{Amount: int64(req.Body.Amount), Message: req.Body.Message}
	if req.Params.IdempotencyKey != nil {
		return s.createOnce(ctx, n, *req.Params.IdempotencyKey)
	}
	g, err := s.gifts.Create(ctx, clientOf(ctx).ID, n)
	if err != nil {
		return nil, err
	}
	noteGift(ctx, g.ID, string(g.Status))
	s.count("gift.api.gifts.created")
	return CreateGift201JSONResponse{
		Body:    CreatedGift{GiftId: g.ID, Code: g.Code, Status: CreatedGiftStatus(g.Status), CreatedAt: g.CreatedAt.UTC()},
		Headers: CreateGift201ResponseHeaders{Location: "/gifts/" + g.ID.String(), CorrelationId: correlation.From(ctx)},
	}, nil
}

// createOnce is POST /gifts with an Idempotency-Key: the first request creates, a retry replays
// the stored 201 with Idempotent-Replayed: true.
func (s *server) createOnce(ctx context.Context, n gift.NewGift, raw string) (CreateGiftResponseObject, error) {
	key, err := gift.ParseIdempotencyKey(raw)
	if err != nil {
		return nil, err
	}
	res, err := s.gifts.CreateOnce(ctx, clientOf(ctx).ID, n, key, func(g gift.Gift) ([]byte, error) {
		return encodeJSON(CreatedGift{GiftId: g.ID, Code: g.Code, Status: CreatedGiftStatus(g.Status), CreatedAt: g.CreatedAt.UTC()})
	})
	if err != nil {
		return nil, err
	}
	if res.Replayed {
		noteGift(ctx, res.GiftID, "")
	} else {
		noteGift(ctx, res.GiftID, string(gift.StatusCreated))
		s.count("gift.api.gifts.created")
	}
	return storedCreateResponse{giftID: res.GiftID, body: res.Body, replayed: res.Replayed}, nil
}

// storedCreateResponse writes a 201 whose body was stored with its Idempotency-Key, so a replay
// is byte for byte the first answer.
type storedCreateResponse struct {
	giftID   uuid.UUID
	body     []byte
	replayed bool
}

func (r storedCreateResponse) VisitCreateGiftResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/gifts/"+r.giftID.String())
	if r.replayed {
		w.Header().Set(headerIdempotentReplayed, "true")
	}
	w.WriteHeader(http.StatusCreated)
	_, err := w.Write(r.body)
	return err
}

// headerIdempotentReplayed marks an answer replayed from an earlier request with the same
// Idempotency-Key (create and send).
const headerIdempotentReplayed = "Idempotent-Replayed"

// GetGift implements GET /gifts/{gift_id}.
func (s *server) GetGift(ctx context.Context, req GetGiftRequestObject) (GetGiftResponseObject, error) {
	noteGift(ctx, req.GiftId, "")
	g, err := s.gifts.Get(ctx, clientOf(ctx).ID, req.GiftId)
	if err != nil {
		return nil, err
	}
	noteGift(ctx, g.ID, string(g.Status))
	headers := GetGift200ResponseHeaders{CorrelationId: correlation.From(ctx)}
	if g.Status == gift.StatusQueued {
		retryAfter := pollAfterSeconds
		headers.RetryAfter = &retryAfter
	}
	return GetGift200JSONResponse{Body: giftBody(g), Headers: headers}, nil
}

// SendGift implements POST /gifts/{gift_id}/send.
func (s *server) SendGift(ctx context.Context, req SendGiftRequestObject) (SendGiftResponseObject, error) {
	noteGift(ctx, req.GiftId, "")
	if req.Params.XForceFailure != nil && !s.failureInjection {
		return nil, validationError("X-Force-Failure is not enabled on this server")
	}
	key, err := gift.ParseIdempotencyKey(req.Params.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	first, err := encodeJSON(SendAccepted{GiftId: req.GiftId, Status: SendAcceptedStatusQUEUED, RequestId: key})
	if err != nil {
		return nil, err
	}
	res, err := s.gifts.Send(ctx, gift.SendRequest{
		GiftID:       req.GiftId,
		ClientID:     clientOf(ctx).ID,
		RequestID:    key,
		ForceFailure: req.Params.XForceFailure != nil && *req.Params.XForceFailure,
	}, first)
	if err != nil {
		if gift.KindOf(err) == gift.KindConflict {
			s.count("gift.api.sends", "result:conflicted")
		}
		return nil, err
	}
	noteGift(ctx, req.GiftId, string(gift.StatusQueued))
	if res.Replayed {
		s.count("gift.api.sends", "result:replayed")
		return storedSendResponse{status: http.StatusOK, body: res.Body, giftID: req.GiftId, replayed: true}, nil
	}
	s.count("gift.api.sends", "result:accepted")
	return storedSendResponse{status: http.StatusAccepted, body: res.Body, giftID: req.GiftId}, nil
}

// pollAfterSeconds is the Retry-After of a send's 202 and its replays, and of a QUEUED gift read:
// the worker completes a send that succeeds at its first attempt (four in five) within a second of
// its acceptance (WORKER_SEND_LATENCY 50 ms, the queue's hop, two statements), so a client that
// reads the gift a second later usually finds it final; a failed attempt waits 10 s or more
// (WORKER_RETRY_BASE_DELAY) and the client reads QUEUED again with the same hint.
const pollAfterSeconds = 1

func (s *server) count(name string, tags ...string) {
	if s.metrics != nil {
		s.metrics.Count(name, 1, tags...)
	}
}

// storedSendResponse writes a send response body as stored, so a replay is byte for byte the
// first answer, with the headers the contract gives both (the Correlation-Id is the access log's:
// each request has its own).
type storedSendResponse struct {
	status   int
	body     []byte
	giftID   uuid.UUID
	replayed bool
}

func (r storedSendResponse) VisitSendGiftResponse(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Location", "/gifts/"+r.giftID.String())
	h.Set("Retry-After", strconv.Itoa(pollAfterSeconds))
	if r.replayed {
		h.Set(headerIdempotentReplayed, "true")
	}
	w.WriteHeader(r.status)
	_, err := w.Write(r.body)
	return err
}

// GetHealthz implements GET /healthz: the process is alive; no dependency is called.
func (s *server) GetHealthz(ctx context.Context, _ GetHealthzRequestObject) (GetHealthzResponseObject, error) {
	return GetHealthz200JSONResponse{Body: Health{Status: Ok}, Headers: GetHealthz200ResponseHeaders{CorrelationId: correlation.From(ctx)}}, nil
}

// GetReadyz implements GET /readyz: ready while the database answers within a second.
func (s *server) GetReadyz(ctx context.Context, _ GetReadyzRequestObject) (GetReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		if f := fieldsFrom(ctx); f != nil {
			f.errorCode, f.errorMessage, f.cause = "DB_UNAVAILABLE", "database unreachable", err
		}
		reason := "database unreachable"
		return GetReadyz503JSONResponse{Body: Readiness{Status: NotReady, Reason: &reason},
			Headers: GetReadyz503ResponseHeaders{CorrelationId: correlation.From(ctx)}}, nil
	}
	return GetReadyz200JSONResponse{Body: Readiness{Status: Ready}, Headers: GetReadyz200ResponseHeaders{CorrelationId: correlation.From(ctx)}}, nil
}

// encodeJSON encodes v exactly as the generated responses do (json.Encoder, trailing newline).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return buf.Bytes(), nil
}

// writeBodyError renders a body the validator accepted but Go could not decode (for example a
// number with a fraction for an integer field) as a 400, naming the field.
func (s *server) writeBodyError(w http.ResponseWriter, r *http.Request, err error) {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		err = fmt.Errorf("%w: %s must be %s", errBodyDecode, typeErr.Field, describeGoType(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		err = fmt.Errorf("%w: malformed JSON at byte %d", errBodyDecode, syntaxErr.Offset)
	default:
		err = fmt.Errorf("%w: it must be a JSON object as documented", errBodyDecode)
	}
	s.writeError(w, r, err)
}

func describeGoType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number in range"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	default:
		return "of the documented type"
	}
}
