package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

type tokenCmd struct {
	Create tokenCreateCmd `cmd:"" help:"Create a bearer token and print it (shown once)."`
	List   tokenListCmd   `cmd:"" help:"List a tenant's tokens (never their secrets)."`
	Revoke tokenRevokeCmd `cmd:"" help:"Revoke a tenant's token by name."`
}

type tokenCreateCmd struct {
	Tenant  string        `required:"" help:"Tenant id."`
	Name    string        `required:"" help:"Token name; the audit actor (e.g. okta-prod)."`
	Scope   string        `default:"scim" help:"scim, admin or scim,admin."`
	Expires time.Duration `help:"Lifetime, e.g. 720h; none by default."`
}

// Run creates the token and prints the secret alone.
func (t *tokenCreateCmd) Run(e *env, c *cli) error {
	scopes, err := directory.ParseScopes(t.Scope)
	if err != nil {
		return err
	}
	if t.Expires < 0 {
		return fmt.Errorf("--expires must be positive")
	}
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, _, err := svc.CreateToken(e.ctx, operator(e), t.Tenant, t.Name, scopes, t.Expires)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, secret)
	return nil
}

type tokenListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints one line per token.
func (t *tokenListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens, err := svc.Tokens(e.ctx, t.Tenant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
	now := time.Now()
	for _, tk := range tokens {
		scopes := make([]string, len(tk.Scopes))
		for i, s := range tk.Scopes {
			scopes[i] = string(s)
		}
		state := "active"
		switch {
		case tk.RevokedAt != nil:
			state = "revoked"
		case !tk.Usable(now):
			state = "expired"
		}
		fmt.Fprintf(w, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", tk.Name, tk.Prefix, strings.Join(scopes, ","),
			tk.CreatedAt.Format(time.RFC3339), timeOrDash(tk.ExpiresAt), timeOrDash(tk.LastUsedAt), state)
	}
	return w.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

type tokenRevokeCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	Name   string `required:"" help:"Name of the token to revoke."`
}

// Run revokes the token.
func (t *tokenRevokeCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := svc.RevokeToken(e.ctx, operator(e), t.Tenant, t.Name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked token %q\n", t.Name)
	return nil
}
