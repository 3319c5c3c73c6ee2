package plural_test

import (
	"testing"

	"github.com/scimd/scimd/internal/plural"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 users"}, {1, "1 user"}, {2, "2 users"}, {1000, "1000 users"}} {
		if got := plural.Count(tc.n, "user", "users"); got != tc.want {
			t.Errorf("Count(%d, user, users) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := plural.Count(1, "entry", "entries"); got != "1 entry" {
		t.Errorf("Count(1, entry, entries) = %q, want 1 entry", got)
	}
}
