// Package repo finds the repository's files from tests and developer tools, wherever they run
// inside the working tree.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Root is the repository's top directory: $GIFT_REPO_ROOT, or the nearest parent of the working
// directory that holds go.work.
func Root() (string, error) {
	if r := os.Getenv("GIFT_REPO_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.work above the working directory; set GIFT_REPO_ROOT")
		}
		dir = parent
	}
}
