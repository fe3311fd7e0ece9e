package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// EncodeUUIDs teaches a connection to send google/uuid values as the 16 bytes they are. pgx knows
// them only as driver.Valuers: it formats each as a string, fails to encode that string in the
// binary format a uuid parameter asks for (building the error with fmt), parses the string back
// and encodes the result, on every parameter of every statement. That was the costliest part of
// encoding a create's parameters. OpenPool sets it on every connection (AfterConnect); a pool
// made otherwise (devkit's hand-written peer) can too.
func EncodeUUIDs(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUID}, m.TryWrapEncodePlanFuncs...)
	return nil
}

// tryWrapUUID hands pgx a uuid.UUID or uuid.NullUUID as the pgtype.UUID it encodes natively.
func tryWrapUUID(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	switch v := value.(type) {
	case uuid.UUID:
		return &uuidPlan{}, pgtype.UUID{Bytes: v, Valid: true}, true
	case uuid.NullUUID:
		return &uuidPlan{}, pgtype.UUID{Bytes: v.UUID, Valid: v.Valid}, true
	}
	return nil, nil, false
}

type uuidPlan struct{ next pgtype.EncodePlan }

func (p *uuidPlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidPlan) Encode(value any, buf []byte) ([]byte, error) {
	switch v := value.(type) {
	case uuid.UUID:
		return p.next.Encode(pgtype.UUID{Bytes: v, Valid: true}, buf)
	case uuid.NullUUID:
		return p.next.Encode(pgtype.UUID{Bytes: v.UUID, Valid: v.Valid}, buf)
	}
	return p.next.Encode(value, buf)
}
