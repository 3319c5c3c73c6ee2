package main

import (
	"fmt"
	"text/tabwriter"
	"time"
)

type tenantCmd struct {
	Create tenantCreateCmd `cmd:"" help:"Create a tenant and print its id."`
	List   tenantListCmd   `cmd:"" help:"List tenants."`
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
	fmt.Fprintln(w, "ID\tNAME\tMFA REQUIRED\tCREATED")
	for _, t := range tenants {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\n", t.ID, t.Name, t.MFARequired, t.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}
