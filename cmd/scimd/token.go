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
	Update tokenUpdateCmd `cmd:"" help:"Change a token's connection settings."`
	List   tokenListCmd   `cmd:"" help:"List a tenant's tokens (never their secrets)."`
	Revoke tokenRevokeCmd `cmd:"" help:"Revoke a tenant's token by name."`
}

// connectionFlags are a token's connection settings on the command line;
// a flag not given leaves its setting as it is, and "default" returns a
// flag to the platform's default (false; forceMfaEnrollment: the tenant's
// MFA requirement).
type connectionFlags struct {
	Password      string `enum:",enforce,ignore" default:"" help:"A password the IdP sends: enforce (check the tenant policy and store it; the default) or ignore (drop it; Okta sends a random one even without password sync)."`
	EmailVerified string `name:"email-verified" enum:",true,false,default" default:"" help:"emailVerified of users this connection creates without sending it (default: the platform's)."`
	MustReset     string `name:"must-reset" enum:",true,false,default" default:"" help:"passwordMustReset of users this connection creates without sending it (default: the platform's)."`
	ForceMFA      string `name:"force-mfa" enum:",true,false,default" default:"" help:"forceMfaEnrollment of users this connection creates without sending it (default: the platform's)."`
}

// apply returns cs with the flags given.
func (f connectionFlags) apply(cs directory.ConnectionSettings) directory.ConnectionSettings {
	if f.Password != "" {
		cs.Password = directory.PasswordMode(f.Password)
	}
	for _, x := range []struct {
		flag string
		dst  **bool
	}{{f.EmailVerified, &cs.EmailVerified}, {f.MustReset, &cs.PasswordMustReset}, {f.ForceMFA, &cs.ForceMFAEnrollment}} {
		switch x.flag {
		case "":
		case "default":
			*x.dst = nil
		default:
			v := x.flag == "true"
			*x.dst = &v
		}
	}
	return cs
}

type tokenCreateCmd struct {
	Tenant  string        `required:"" help:"Tenant id."`
	Name    string        `required:"" help:"Token name; the audit actor (e.g. okta-prod)."`
	Scope   string        `default:"scim" help:"scim, admin or events, comma-separated (e.g. scim,admin), or auth (the sign-in API, alone)."`
	Expires time.Duration `help:"Lifetime, e.g. 720h; none by default."`
	connectionFlags
}

type tokenUpdateCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	Name   string `required:"" help:"Token name."`
	connectionFlags
}

// Run changes the settings given and prints the token's settings.
func (t *tokenUpdateCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tk, err := svc.UpdateTokenSettings(e.ctx, operator(e), t.Tenant, t.Name, func(cs *directory.ConnectionSettings) error {
		*cs = t.apply(*cs)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, settingsText(tk.Settings))
	return nil
}

// settingsText is a token's settings in one line, such as
// "password=ignore emailVerified=true".
func settingsText(cs directory.ConnectionSettings) string {
	mode := cs.Password
	if mode == "" {
		mode = directory.PasswordEnforce
	}
	parts := []string{"password=" + string(mode)}
	for _, x := range []struct {
		name string
		v    *bool
	}{{"emailVerified", cs.EmailVerified}, {"passwordMustReset", cs.PasswordMustReset}, {"forceMfaEnrollment", cs.ForceMFAEnrollment}} {
		if x.v != nil {
			parts = append(parts, fmt.Sprintf("%s=%t", x.name, *x.v))
		}
	}
	return strings.Join(parts, " ")
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
	secret, _, err := svc.CreateToken(e.ctx, operator(e), t.Tenant, t.Name, scopes, t.Expires, t.apply(directory.ConnectionSettings{}))
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, secret)
	return nil
}

type tokenListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints one line per token, its id first: the connection label of
// the metrics.
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
	fmt.Fprintln(w, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE\tSETTINGS")
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
		fmt.Fprintf(w, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\n", tk.ID, tk.Name, tk.Prefix, strings.Join(scopes, ","),
			tk.CreatedAt.Format(time.RFC3339), timeOrDash(tk.ExpiresAt), timeOrDash(tk.LastUsedAt), state, settingsText(tk.Settings))
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
