package postgres_test

import (
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true}, &env) }
