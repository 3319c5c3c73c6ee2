package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/scimd/scimd/internal/directory"
)

type groupCmd struct {
	Create groupCreateCmd `cmd:"" help:"Create a group and print its id."`
	List   groupListCmd   `cmd:"" help:"List a tenant's groups."`
}

type groupCreateCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	Name   string `required:"" help:"The group's displayName, unique in the tenant."`
}

// Run creates the group and prints its id alone.
func (g *groupCreateCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	group, err := svc.CreateGroup(e.ctx, operator(e), g.Tenant, directory.GroupInput{DisplayName: g.Name})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, group.ID)
	return nil
}

type groupListCmd struct {
	Tenant string `help:"Tenant id; default: every tenant."`
}

// Run prints one line per group, without reading members: of the tenant,
// or of every tenant.
func (g *groupListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tenants := []string{g.Tenant}
	if g.Tenant == "" {
		all, err := svc.Tenants(e.ctx)
		if err != nil {
			return err
		}
		tenants = tenants[:0]
		for _, t := range all {
			tenants = append(tenants, t.ID)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tEXTERNAL ID (OPERATORS')\tTENANT")
	for _, tenant := range tenants {
		for start := 1; ; start += directory.MaxPageSize {
			page, err := svc.Groups(e.ctx, tenant, directory.GroupQuery{StartIndex: start, Count: directory.MaxPageSize})
			if err != nil {
				return err
			}
			for _, grp := range page.Groups {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", grp.ID, grp.DisplayName, grp.ExternalIDs.Of(""), tenant)
			}
			if len(page.Groups) < directory.MaxPageSize {
				break
			}
		}
	}
	return w.Flush()
}
