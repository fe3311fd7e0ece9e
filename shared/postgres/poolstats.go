package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolMetrics receives the pool figures (dogstatsd.Client).
type PoolMetrics interface {
	Gauge(name string, value float64)
	Count(name string, value int64, tags ...string)
}

// ReportPool sends the pool's state every interval until ctx is done: connections in use and
// idle (gauges), and how many acquires had to wait for a connection since the last report.
func ReportPool(ctx context.Context, pool *pgxpool.Pool, m PoolMetrics, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var waited int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := pool.Stat()
		m.Gauge("gift.db.pool.acquired", float64(st.AcquiredConns()))
		m.Gauge("gift.db.pool.idle", float64(st.IdleConns()))
		if n := st.EmptyAcquireCount(); n > waited {
			m.Count("gift.db.pool.waited", n-waited)
			waited = n
		}
	}
}
