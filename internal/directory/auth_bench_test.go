package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkAuthenticateMiss measures refusing a token that is wrong by its
// first character and one that is wrong by its last: the secret is looked
// up by its SHA-256, so how much of it is right changes nothing (compare
// the two ns/op). go test ./internal/directory -run '^$' -bench AuthenticateMiss
func BenchmarkAuthenticateMiss(b *testing.B) {
	f := setup(b, storetest.SQLite(b))
	ctx := context.Background()
	secret, _, err := f.svc.CreateToken(ctx, operator, f.tenant.ID, "okta", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
	if err != nil {
		b.Fatal(err)
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	prefix := len(directory.TokenPrefix)
	for name, wrong := range map[string]string{
		"first-character": flip(secret, prefix),
		"last-character":  flip(secret, len(secret)-1),
		"all-characters":  directory.TokenPrefix + strings.Repeat("A", len(secret)-prefix),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.svc.Authenticate(ctx, wrong); err == nil {
					b.Fatal("a wrong token authenticated")
				}
			}
		})
	}
}
