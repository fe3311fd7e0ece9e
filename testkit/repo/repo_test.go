package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	t.Run("nearest_parent_with_go.work_from_a_subdirectory", func(t *testing.T) {
		top := t.TempDir()
		if err := os.WriteFile(filepath.Join(top, "go.work"), []byte("go 1.26.0\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(top, "a", "b")
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GIFT_REPO_ROOT", "")
		t.Chdir(sub)
		got, err := Root()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := filepath.EvalSymlinks(top)
		if got, _ = filepath.EvalSymlinks(got); got != want {
			t.Fatalf("Root() = %s, want %s", got, want)
		}
	})
	t.Run("GIFT_REPO_ROOT_wins", func(t *testing.T) {
		t.Setenv("GIFT_REPO_ROOT", "/somewhere/else")
		got, err := Root()
		if err != nil || got != "/somewhere/else" {
			t.Fatalf("Root() = %q, %v; want /somewhere/else", got, err)
		}
	})
	t.Run("no_go.work_above_is_an_error", func(t *testing.T) {
		t.Setenv("GIFT_REPO_ROOT", "")
		t.Chdir(t.TempDir())
		if got, err := Root(); err == nil {
			t.Fatalf("Root() = %q, want an error outside any repository", got)
		}
	})
}
