package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
)

func TestOpenSQLiteForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	abs := filepath.Join(t.TempDir(), "abs.db")
	for _, tc := range []struct {
		url, file string
	}{
		{"sqlite://rel.db", filepath.Join(dir, "rel.db")},
		{"sqlite:short.db", filepath.Join(dir, "short.db")},
		{"sqlite://" + abs, abs},
		{"SQLITE://upper.db", filepath.Join(dir, "upper.db")},
	} {
		b, err := store.Open(context.Background(), tc.url)
		if err != nil {
			t.Fatalf("Open(%q) = %v, want nil", tc.url, err)
		}
		if err := b.Migrate(context.Background()); err != nil {
			t.Fatalf("Open(%q).Migrate() = %v, want nil", tc.url, err)
		}
		b.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Fatalf("Open(%q) made no file %s: %v", tc.url, tc.file, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // in the error
	}{
		{"mysql://root:s3cret@db:3306/scimd", `unknown scheme "mysql"`},
		{"scimd.db", "not a database URL"},
		{"sqlite://", "names no file"},
		{"sqlite:", "names no file"},
		{"sqlite://scimd.db?mode=ro", "invalid database path"},
		{"postgres://scimd:s3cret@db:notaport/scimd", "postgres"},
		{"postgres://scimd:s3cret@127.0.0.1:1/scimd?connect_timeout=5", "connect"},
		{"postgresql://scimd@127.0.0.1:1/scimd?password=s3cret&connect_timeout=5", "connect"},
		{"postgres://scimd:s3cret@db/scimd?pool_max_conns=many", "pool_max_conns"},
	} {
		_, err := store.Open(context.Background(), tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %v, which shows the password", tc.url, err)
		}
		if strings.HasPrefix(tc.url, "mysql") || tc.url == "scimd.db" {
			if !strings.Contains(err.Error(), "sqlite://") || !strings.Contains(err.Error(), "postgres://") {
				t.Errorf("Open(%q) = %v, want the accepted forms listed", tc.url, err)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://scimd:s3cret@db:5432/scimd?sslmode=require", "postgres://scimd:xxxxx@db:5432/scimd?sslmode=require"},
		{"postgres://scimd@db/scimd?password=s3cret", "postgres://scimd@db/scimd?password=xxxxx"},
		{"postgres://db/scimd?sslmode=verify-full&sslpassword=s3cret", "postgres://db/scimd?sslmode=verify-full&sslpassword=xxxxx"},
		{"sqlite:///var/lib/scimd.db", "sqlite:///var/lib/scimd.db"},
		{"postgres://scimd:s3cret@db:5432/%zz", "(unparsable URL)"},
	} {
		if got := store.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
