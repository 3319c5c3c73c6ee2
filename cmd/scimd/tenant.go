package main

import (
	"fmt"
	"text/tabwriter"
	"time"
)

type tenantCmd struct {
	Create tenantCreateCmd `cmd:"" help:"Create a tenant and print its id."`
	List   tenantListCmd   `cmd:"" help:"List tenants."`
	Set    tenantSetCmd    `cmd:"" help:"Change a tenant's settings."`
}

type tenantSetCmd struct {
	Tenant           string        `required:"" help:"Tenant id."`
	InvitationExpiry time.Duration `name:"invitation-expiry" required:"" help:"How long invitation links stay valid, from 1h to 2160h (default 168h: 7 days)."`
}

// Run sets the settings given; audited as tenant.settings_updated.
func (t *tenantSetCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant, err := svc.SetInvitationTTL(e.ctx, operator(e), t.Tenant, t.InvitationExpiry)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "invitationExpiry\t%s\n", tenant.InvitationTTL)
	return nil
}

type tenantCreateCmd struct {
	Name string `required:"" help:"The tenant's display name (used in invitation emails)."`
}

// Run creates the tenant and prints its id alone.
func (t *tenantCreateCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant, err := svc.CreateTenant(e.ctx, operator(e), t.Name)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tenant.ID)
	return nil
}

type tenantListCmd struct{}

// Run prints one line per tenant.
func (t *tenantListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tenants, err := svc.Tenants(e.ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tMFA REQUIRED\tINVITATION EXPIRY\tCREATED")
	for _, t := range tenants {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\n", t.ID, t.Name, t.MFARequired, t.InvitationTTL, t.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}
