package main

import (
	"fmt"

	"github.com/scimd/scimd/internal/signin"
)

type signInCmd struct {
	Set  signInSetCmd  `cmd:"" help:"Change a tenant's sign-in settings; audited as tenant.policy_updated."`
	Show signInShowCmd `cmd:"" help:"Print a tenant's sign-in settings."`
}

type signInShowCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints the settings.
func (s *signInShowCmd) Run(e *env, c *cli) error {
	db, _, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	flow, err := signin.NewService(e.ctx, db, nil, nil)
	if err != nil {
		return err
	}
	st, err := flow.Settings(e.ctx, s.Tenant)
	if err != nil {
		return err
	}
	printSignInSettings(e, st)
	return nil
}

type signInSetCmd struct {
	Tenant            string `required:"" help:"Tenant id."`
	EmailVerification string `name:"email-verification" required:"" enum:"required,optional" help:"required (the default): a user whose email is not verified verifies it by a code before signing in; optional: no such step."`
}

// Run sets the settings and prints them.
func (s *signInSetCmd) Run(e *env, c *cli) error {
	db, _, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	flow, err := signin.NewService(e.ctx, db, nil, nil)
	if err != nil {
		return err
	}
	st := signin.Settings{EmailVerificationRequired: s.EmailVerification == "required"}
	if err := flow.SetSettings(e.ctx, operator(e), s.Tenant, st); err != nil {
		return err
	}
	printSignInSettings(e, st)
	return nil
}

func printSignInSettings(e *env, st signin.Settings) {
	v := "required"
	if !st.EmailVerificationRequired {
		v = "optional"
	}
	fmt.Fprintf(e.stdout, "emailVerification\t%s\n", v)
}
