package signin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}}

// BenchmarkSignInRefusal measures refusing an unknown email and a wrong
// password with the default argon2id parameters: both verify one hash
// (the unknown email against the dummy), so the two ns/op differ by the
// database writes only, within the noise of the hash. The throttle is
// cleared between iterations, outside the timer.
// go test ./internal/signin -run '^$' -bench SignInRefusal -benchtime 40x
func BenchmarkSignInRefusal(b *testing.B) {
	ctx := context.Background()
	st := storetest.SQLite(b)
	hasher := password.NewHasher(password.DefaultParams(), 1, 4)
	dir := directory.NewService(st, hasher)
	tenant, err := dir.CreateTenant(ctx, operator, "Acme")
	if err != nil {
		b.Fatal(err)
	}
	pw := "correct horse battery staple 42"
	u, err := dir.CreateUser(ctx, operator, tenant.ID, directory.UserInput{User: directory.DirectUser("anita@example.com", "", ""), Password: &pw})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	flow, err := signin.NewService(ctx, st, hasher, nil, signin.WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	c := signin.Client{Tenant: tenant, TokenID: "bench", TokenName: "bench"}
	for _, bc := range []struct{ name, email, password string }{
		{"unknown-email", "nobody@example.com", pw},
		{"wrong-password", "anita@example.com", "not the password at all 1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				if err := st.UpdateSignInAccount(ctx, tenant.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
					*a = signin.Account{}
					return nil, nil
				}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := flow.SignIn(ctx, c, signin.Credentials{Email: bc.email, Password: bc.password}); !errors.Is(err, signin.ErrInvalidCredentials) {
					b.Fatalf("SignIn(%s) = %v, want ErrInvalidCredentials", bc.name, err)
				}
			}
		})
	}
}
