package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
)

type policyCmd struct {
	Show policyShowCmd `cmd:"" help:"Print a tenant's password policy and MFA requirement."`
	Set  policySetCmd  `cmd:"" help:"Change a tenant's password policy or MFA requirement; flags not given keep their value."`
}

type policyShowCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints the policy, one rule a line.
func (p *policyShowCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := svc.Tenant(e.ctx, p.Tenant)
	if err != nil {
		return err
	}
	printPolicy(e, t)
	return nil
}

func printPolicy(e *env, t directory.Tenant) {
	p := t.PasswordPolicy
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, row := range []struct {
		name  string
		value any
	}{
		{"mfaRequired", t.MFARequired}, {"minLength", p.MinLength}, {"maxLength", p.MaxLength},
		{"minLower", p.MinLower}, {"minUpper", p.MinUpper}, {"minDigits", p.MinDigits}, {"minSymbols", p.MinSymbols},
		{"blocklist", p.Blocklist}, {"contextCheck", p.ContextCheck},
	} {
		fmt.Fprintf(w, "%s\t%v\n", row.name, row.value)
	}
	w.Flush()
}

type policySetCmd struct {
	Tenant       string `required:"" help:"Tenant id."`
	MFARequired  *bool  `name:"mfa-required" negatable:"" help:"Require MFA enrolment of every user (needed for a minimum length below 15)."`
	MinLength    *int   `name:"min-length" help:"Least length in characters (at least 15; at least 8 while MFA is required)."`
	MaxLength    *int   `name:"max-length" help:"Greatest length in characters (64 to 4096)."`
	MinLower     *int   `name:"min-lower" help:"Least lower-case letters (0: no rule)."`
	MinUpper     *int   `name:"min-upper" help:"Least upper-case letters (0: no rule)."`
	MinDigits    *int   `name:"min-digits" help:"Least digits (0: no rule)."`
	MinSymbols   *int   `name:"min-symbols" help:"Least symbols (0: no rule)."`
	Blocklist    *bool  `negatable:"" help:"Refuse common and breached passwords."`
	ContextCheck *bool  `name:"context-check" negatable:"" help:"Refuse passwords containing the email's local part, the userName or the tenant's name."`
}

// Run applies the flags given to the current policy and prints the result.
func (p *policySetCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := svc.UpdateTenantPolicy(e.ctx, operator(e), p.Tenant, func(mfa *bool, pol *password.Policy) error {
		setBool(mfa, p.MFARequired)
		setInt(&pol.MinLength, p.MinLength)
		setInt(&pol.MaxLength, p.MaxLength)
		setInt(&pol.MinLower, p.MinLower)
		setInt(&pol.MinUpper, p.MinUpper)
		setInt(&pol.MinDigits, p.MinDigits)
		setInt(&pol.MinSymbols, p.MinSymbols)
		setBool(&pol.Blocklist, p.Blocklist)
		setBool(&pol.ContextCheck, p.ContextCheck)
		return nil
	})
	if err != nil {
		return err
	}
	printPolicy(e, t)
	return nil
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}
