// Command giftpeer is the hand-written peer of the API's POST /gifts that giftbench measures the
// API against (`make bench`, docs/observability.md "Overhead"): a minimal net/http + pgx handler
// doing the same database work (the gift and its first history row in one statement, as
// shared/postgres/store.go CreateGift), with the same validation outcome (shared/gift) and the
// same answer (201, Location, the CreatedGift JSON). It has no validator middleware, access log,
// metrics or tracing: it shows what the same database work costs without them.
//
// It reads DATABASE_URL, DB_MAX_CONNS and API_PORT, like the api it stands beside.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// maxBody is the API's default MAX_BODY_BYTES.
const maxBody = 16 << 10

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "giftpeer:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pc, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	if n, err := strconv.ParseInt(os.Getenv("DB_MAX_CONNS"), 10, 32); err == nil && n > 0 {
		pc.MaxConns = int32(n)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("open pool: %w", err)
	}
	defer pool.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /gifts", func(w http.ResponseWriter, r *http.Request) { createGift(w, r, pool) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("API_PORT"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

type createRequest struct {
	Amount  *int64  `json:"amount"`
	Message *string `json:"message"`
}

type createdGift struct {
	GiftID    string    `json:"gift_id"`
	Code      string    `json:"code"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func createGift(w http.ResponseWriter, r *http.Request, pool *pgxpool.Pool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		fail(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body too large")
		return
	}
	var req createRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() || req.Amount == nil {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "request body must be the documented JSON object")
		return
	}
	g, err := gift.New(uuid.Nil, gift.NewGift{Amount: *req.Amount, Message: req.Message}, time.Now())
	if err != nil {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
		return
	}
	_, err = pool.Exec(r.Context(), `
		WITH created AS (
			INSERT INTO gifts (id, code, amount, message, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING id, status, created_at)
		INSERT INTO gift_events (gift_id, to_status, actor, at)
		SELECT id, status, $8, created_at FROM created`,
		g.ID, g.Code, g.Amount, g.Message, g.Status, g.CreatedAt, g.UpdatedAt, gift.ActorAPI)
	if err != nil {
		fail(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
		return
	}
	w.Header().Set("Location", "/gifts/"+g.ID.String())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(createdGift{GiftID: g.ID.String(), Code: g.Code, Status: string(g.Status), CreatedAt: g.CreatedAt})
}

func fail(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, message
	_ = json.NewEncoder(w).Encode(body)
}
