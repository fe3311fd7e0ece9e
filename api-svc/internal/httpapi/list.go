package httpapi

import (
	"context"
	"encoding/base64"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// ListGifts implements GET /gifts: a page of the caller's gifts, newest first.
func (s *server) ListGifts(ctx context.Context, req ListGiftsRequestObject) (ListGiftsResponseObject, error) {
	q := gift.ListQuery{ClientID: clientOf(ctx).ID, Limit: gift.DefaultListLimit}
	p := req.Params
	if p.Limit != nil {
		q.Limit = *p.Limit
	}
	if p.Cursor != nil {
		before, err := decodeCursor(*p.Cursor)
		if err != nil {
			return nil, err
		}
		q.Before = before
	}
	if p.Status != nil {
		q.Status = gift.Status(*p.Status)
	}
	if p.CreatedSince != nil {
		q.CreatedSince = *p.CreatedSince
	}
	if p.CreatedBefore != nil {
		q.CreatedBefore = *p.CreatedBefore
	}
	page, err := s.gifts.List(ctx, q)
	if err != nil {
		return nil, err
	}
	body := GiftList{Data: make([]Gift, len(page.Gifts))}
	for i, g := range page.Gifts {
		body.Data[i] = giftBody(g)
	}
	if page.More {
		next := encodeCursor(page.Gifts[len(page.Gifts)-1].ID)
		body.NextCursor = &next
	}
	return ListGifts200JSONResponse{Body: body, Headers: ListGifts200ResponseHeaders{CorrelationId: correlation.From(ctx)}}, nil
}

// A cursor is the id of the last gift of a page in unpadded base64url: opaque to clients (the
// contract says so), so its form may change without a new version.
func encodeCursor(last uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(last[:]) }

func decodeCursor(c string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) != len(uuid.UUID{}) {
		return uuid.Nil, validationError("query parameter cursor: not a cursor this API returned")
	}
	return uuid.UUID(b), nil
}

// giftBody is a gift as the contract shows it.
func giftBody(g gift.Gift) Gift {
	return Gift{
		GiftId: g.ID, Code: g.Code, Amount: g.Amount, Message: g.Message,
		Status: GiftStatus(g.Status), LastError: g.LastError,
		CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(),
	}
}
