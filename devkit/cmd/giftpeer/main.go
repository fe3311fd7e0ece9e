// Command giftpeer is the hand-written peer of the API's POST /gifts that giftbench measures the
// API against (`make bench`, docs/observability.md "Overhead"): a minimal net/http + pgx handler
// doing the same work: the client's key read from "Authorization: Bearer <key>" (shared/apikey),
// looked up once per key id (shared/postgres LookupAPIKey) and kept in memory, its hash compared;
// then the gift and its first history row in one statement, owned by the key's client (as
// shared/postgres/store.go CreateGift), with the same validation outcome (shared/gift) and the same
// answer (201, Location, the CreatedGift JSON; 401 for a missing or unknown key). It has no
// validator middleware, access log, metrics, tracing or rate limit: it shows what the same
// authentication and database work cost without them.
//
// -auth=false skips the key check (the gift then belongs to the legacy client, with the same
// statement): giftbench runs the peer both ways to show what authentication costs.
//
// It reads DATABASE_URL, DB_MAX_CONNS and API_PORT, like the api it stands beside.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

// maxBody is the API's default MAX_BODY_BYTES.
const maxBody = 16 << 10

// queryTimeout bounds the key lookup, as the API's store bounds its queries.
const queryTimeout = 5 * time.Second

func main() {
	auth := flag.Bool("auth", true, "check the client's API key on POST /gifts (false: no key, gifts of the legacy client)")
	flag.Parse()
	if err := run(*auth); err != nil {
		fmt.Fprintln(os.Stderr, "giftpeer:", err)
		os.Exit(1)
	}
}

func run(auth bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pc, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	if n, err := strconv.ParseInt(os.Getenv("DB_MAX_CONNS"), 10, 32); err == nil && n > 0 {
		pc.MaxConns = int32(n)
	}
	pc.AfterConnect = postgres.EncodeUUIDs // as the services' pools: the same parameter encoding
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("open pool: %w", err)
	}
	defer pool.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("API_PORT"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newPeer(pool, auth).routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// peer is the handler's state: the pool, and with auth the keys already read.
type peer struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	auth  bool
	keys  sync.Map // key id -> gift.StoredKey, read from the database once per id
}

func newPeer(pool *pgxpool.Pool, auth bool) *peer {
	return &peer{pool: pool, store: postgres.NewStore(pool, queryTimeout), auth: auth}
}

func (p *peer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gifts", p.createGift)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := p.pool.Ping(r.Context()); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	return mux
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

// errNoKey and errBadKey are the two 401s: no bearer token, or one that is not an active key.
var (
	errNoKey  = errors.New("no key")
	errBadKey = errors.New("bad key")
)

// client is the client whose key the request carries: parse, the cached stored key (read once per
// key id), the hash compared in constant time, a revoked key refused.
func (p *peer) client(ctx context.Context, header string) (uuid.UUID, error) {
	key, err := apikey.FromAuthorization(header)
	switch {
	case errors.Is(err, apikey.ErrMissing):
		return uuid.Nil, errNoKey
	case err != nil:
		return uuid.Nil, errBadKey
	}
	var stored gift.StoredKey
	if v, ok := p.keys.Load(key.ID); ok {
		stored = v.(gift.StoredKey)
	} else {
		stored, err = p.store.LookupAPIKey(ctx, key.ID)
		switch {
		case errors.Is(err, gift.ErrKeyNotFound):
			return uuid.Nil, errBadKey
		case err != nil:
			return uuid.Nil, fmt.Errorf("look up key %s: %w", key.ID, err)
		}
		p.keys.Store(key.ID, stored)
	}
	if !stored.Active() || !key.Matches(stored.SecretHash) {
		return uuid.Nil, errBadKey
	}
	return stored.Client.ID, nil
}

func (p *peer) createGift(w http.ResponseWriter, r *http.Request) {
	clientID := gift.LegacyClientID
	if p.auth {
		var err error
		clientID, err = p.client(r.Context(), r.Header.Get("Authorization"))
		switch {
		case errors.Is(err, errNoKey):
			w.Header().Set("WWW-Authenticate", "Bearer")
			fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "an API key is required: Authorization: Bearer <key>")
			return
		case errors.Is(err, errBadKey):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			fail(w, http.StatusUnauthorized, "API_KEY_INVALID", "the API key is not valid")
			return
		case err != nil:
			fail(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
			return
		}
	}
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
	g, err := gift.New(clientID, gift.NewGift{Amount: *req.Amount, Message: req.Message}, time.Now())
	if err != nil {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
		return
	}
	_, err = p.pool.Exec(r.Context(), `
		WITH created AS (
			INSERT INTO gifts (id, client_id, code, amount, message, status, created_at, updated_at)
			VALUES ($1, $9, $2, $3, $4, $5, $6, $7)
			RETURNING id, status, created_at)
		INSERT INTO gift_events (gift_id, to_status, actor, at)
		SELECT id, status, $8, created_at FROM created`,
		g.ID, g.Code, g.Amount, g.Message, g.Status, g.CreatedAt, g.UpdatedAt, gift.ActorAPI, g.ClientID)
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
