package envconfig_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
)

func reader(env map[string]string) *envconfig.Reader {
	return &envconfig.Reader{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
}

func TestSettingsAreTheEffectiveValues(t *testing.T) {
	r := reader(map[string]string{"PORT": "9000", "NAME": "gift", "EMPTY": "", "RATE": "0.5", "WAIT": "250ms"})
	r.Int("PORT", 8080, 1, 65535)
	r.String("NAME", "default-name")
	r.String("EMPTY", "fallback") // empty counts as unset
	r.Float("RATE", 0.2, 0, 1)
	r.Duration("WAIT", time.Second, 0)
	r.Duration("TIMEOUT", 5*time.Second, 0)
	r.Bool("ENABLED", true)
	r.Int("POOL", 10, 1, 100)
	r.String("NAME", "another default") // the first read is the one recorded
	if !r.Derive("POOL", "12") {
		t.Fatal("Derive of an unset variable reported it set")
	}
	if r.Derive("PORT", "1") {
		t.Fatal("Derive of a set variable replaced it")
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := []envconfig.Setting{
		{Name: "EMPTY", Value: "fallback"},
		{Name: "ENABLED", Value: "true"},
		{Name: "NAME", Value: "gift", Set: true},
		{Name: "POOL", Value: "12"},
		{Name: "PORT", Value: "9000", Set: true},
		{Name: "RATE", Value: "0.5", Set: true},
		{Name: "TIMEOUT", Value: "5s"},
		{Name: "WAIT", Value: "250ms", Set: true},
	}
	if got := r.Settings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("settings:\n got %+v\nwant %+v", got, want)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"DATABASE_URL", "postgres://gift:s3cret@db:5432/gifts?sslmode=require", "postgres://gift:*****@db:5432/gifts?sslmode=require"},
		{"DATABASE_URL", "postgres://gift@db/gifts", "postgres://gift@db/gifts"},
		{"DATABASE_URL", "postgres://db/gifts?user=gift&password=s3cret", "postgres://db/gifts?password=*****&user=gift"},
		{"DATABASE_URL", "host=db user=gift password=s3cret dbname=gifts", "host=db user=gift password=***** dbname=gifts"},
		{"DATABASE_URL", "host=db password='s3 cret' dbname=gifts", "host=db password=***** dbname=gifts"},
		{"DATABASE_URL", "postgres://gift:s3cret@db:port/gifts", "*****"}, // does not parse: masked whole
		{"PGPASSWORD", "s3cret", "*****"},
		{"DD_API_KEY", "0123abcd", "*****"},
		{"DB_SECRET_ARN", "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:gift-db", "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:gift-db"},
		{"SQS_QUEUE_URL", "http://localhost:9324/000000000000/gift-send", "http://localhost:9324/000000000000/gift-send"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			r := reader(map[string]string{tc.name: tc.value})
			r.String(tc.name, "")
			s := r.Settings()[0]
			if s.Value != tc.want || s.Secret != (tc.want != tc.value) || !s.Set {
				t.Fatalf("recorded %+v, want value %q", s, tc.want)
			}
		})
	}
}

// The configuration line carries every effective value and never a password.
func TestLogConfigurationNeverLogsAPassword(t *testing.T) {
	const password = "pw-8Hq2-never-logged"
	r := reader(map[string]string{
		"DATABASE_URL": "postgres://gift:" + password + "@db:5432/gifts",
		"PGPASSWORD":   password,
		"API_PORT":     "9000",
	})
	r.String("DATABASE_URL", "")
	r.String("PGPASSWORD", "")
	r.Int("API_PORT", 8080, 0, 65535)
	r.String("LOG_LEVEL", "INFO")
	var buf bytes.Buffer
	envconfig.LogConfiguration(slog.New(slog.NewJSONHandler(&buf, nil)), r.Settings())

	if strings.Contains(buf.String(), password) {
		t.Fatalf("the password is in the log: %s", buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want one: %s", len(lines), buf.String())
	}
	var line struct {
		Msg     string            `json:"msg"`
		Config  map[string]string `json:"config"`
		FromEnv []string          `json:"config_from_env"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DATABASE_URL": "postgres://gift:*****@db:5432/gifts",
		"PGPASSWORD":   "*****",
		"API_PORT":     "9000",
		"LOG_LEVEL":    "INFO",
	}
	if line.Msg != "configuration" || !reflect.DeepEqual(line.Config, want) ||
		!reflect.DeepEqual(line.FromEnv, []string{"API_PORT", "DATABASE_URL", "PGPASSWORD"}) {
		t.Fatalf("logged %s", lines[0])
	}
}
