package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/scimd/scimd/internal/directory"
)

type roleCmd struct {
	Define        roleDefineCmd        `cmd:"" help:"Add a role to a tenant's role catalogue."`
	List          roleListCmd          `cmd:"" help:"List a tenant's role catalogue and whether it is catalogue only."`
	Remove        roleRemoveCmd        `cmd:"" help:"Remove a role from the catalogue (users holding it keep it)."`
	CatalogueOnly roleCatalogueOnlyCmd `cmd:"" name:"catalogue-only" help:"on: every write of a user (SCIM included) may give only catalogue roles; off: identity providers send any role."`
}

type roleDefineCmd struct {
	Tenant  string `required:"" help:"Tenant id."`
	Value   string `arg:"" help:"The role's value, as SCIM roles.value carries it (e.g. admin)."`
	Display string `help:"The role's name for people (e.g. Administrator)."`
	Type    string `help:"The role's type (e.g. platform)."`
}

// Run defines the role and prints the catalogue.
func (a *roleDefineCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := svc.DefineRole(e.ctx, operator(e), a.Tenant, directory.RoleDef{Value: a.Value, Display: a.Display, Type: a.Type}); err != nil {
		return err
	}
	return printRoles(e, svc, a.Tenant)
}

type roleListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints the tenant's role catalogue.
func (a *roleListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return printRoles(e, svc, a.Tenant)
}

// printRoles prints the catalogue's setting, then one role a line under
// a header.
func printRoles(e *env, svc *directory.Service, tenantID string) error {
	rc, err := svc.TenantRoles(e.ctx, tenantID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "catalogue only: %s\n", onOff(rc.CatalogueOnly))
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VALUE\tDISPLAY\tTYPE")
	for _, r := range rc.Roles {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Value, r.Display, r.Type)
	}
	return w.Flush()
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

type roleRemoveCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	Value  string `arg:"" help:"The role's value."`
}

// Run removes the role from the catalogue.
func (a *roleRemoveCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := svc.RemoveRole(e.ctx, operator(e), a.Tenant, a.Value); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed the role %s from the catalogue; users holding it keep it\n", a.Value)
	return nil
}

type roleCatalogueOnlyCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	State  string `arg:"" enum:"on,off" help:"on or off."`
}

// Run turns catalogue only on or off.
func (a *roleCatalogueOnlyCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	rc, err := svc.SetRolesCatalogueOnly(e.ctx, operator(e), a.Tenant, a.State == "on")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "catalogue only: %s\n", onOff(rc.CatalogueOnly))
	return nil
}
