package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/scimd/scimd/internal/csvimport"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/plural"
)

type attributeCmd struct {
	Define attributeDefineCmd `cmd:"" help:"Define a custom attribute of a tenant's users."`
	List   attributeListCmd   `cmd:"" help:"List a tenant's custom attributes."`
	Remove attributeRemoveCmd `cmd:"" help:"Remove a custom attribute; --force when users hold values (they are deleted)."`
}

type attributeDefineCmd struct {
	Tenant      string   `required:"" help:"Tenant id."`
	Name        string   `arg:"" help:"The attribute's name: a letter, then letters, digits, '-' or '_' (at most 64)."`
	Type        string   `default:"string" enum:"string,boolean,integer,decimal,dateTime,reference" help:"string, boolean, integer, decimal, dateTime or reference."`
	Description string   `help:"What the attribute holds, shown on /Schemas."`
	MultiValued bool     `name:"multi-valued" help:"The attribute holds a list of values."`
	Required    bool     `help:"Every new user must have a value, and no change may remove it."`
	CaseExact   bool     `name:"case-exact" help:"Strings compare case-sensitively (filters, canonical values, uniqueness)."`
	Canonical   []string `name:"canonical" help:"A value the string attribute may take (repeatable); none: any value."`
	Uniqueness  string   `default:"none" enum:"none,server" help:"server: no two users of the tenant hold the same value."`
}

// Run defines the attribute and prints its definition.
func (a *attributeDefineCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	d, err := svc.DefineAttribute(e.ctx, operator(e), a.Tenant, directory.AttributeDef{
		Name: a.Name, Type: directory.AttributeType(a.Type), Description: a.Description, MultiValued: a.MultiValued,
		Required: a.Required, CaseExact: a.CaseExact, CanonicalValues: a.Canonical, Uniqueness: a.Uniqueness,
	})
	if err != nil {
		return err
	}
	return printAttributes(e, []directory.AttributeDef{d})
}

type attributeListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints the tenant's custom attributes, in definition order.
func (a *attributeListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	defs, err := svc.TenantAttributes(e.ctx, a.Tenant)
	if err != nil {
		return err
	}
	return printAttributes(e, defs)
}

// printAttributes prints one definition a line, under a header.
func printAttributes(e *env, defs []directory.AttributeDef) error {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tMULTI\tREQUIRED\tCASE-EXACT\tUNIQUENESS\tCANONICAL")
	for _, d := range defs {
		fmt.Fprintf(w, "%s\t%s\t%t\t%t\t%t\t%s\t%s\n", d.Name, d.Type, d.MultiValued, d.Required, d.CaseExact, d.Uniqueness,
			strings.Join(d.CanonicalValues, ","))
	}
	return w.Flush()
}

type attributeRemoveCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	Name   string `arg:"" help:"The attribute's name."`
	Force  bool   `help:"Remove it even though users hold values, deleting them."`
}

// Run removes the attribute and says how many users lost a value.
func (a *attributeRemoveCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := svc.RemoveAttribute(e.ctx, operator(e), a.Tenant, a.Name, a.Force)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s; values deleted from %s\n", a.Name, plural.Count(n, "user", "users"))
	return nil
}

// customValues turns --attr name=value flags into custom attribute values
// for the domain, which checks them against the definitions: a
// multi-valued attribute collects every value given for it.
func customValues(defs []directory.AttributeDef, attrs []string) (map[string]any, error) {
	var m map[string]any
	for _, kv := range attrs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, directory.Errorf(directory.KindInvalidValue, "attr", "--attr %q: use name=value", kv)
		}
		d := directory.FindAttribute(defs, name)
		if d == nil {
			return nil, directory.Errorf(directory.KindInvalidSyntax, name, "--attr %s: the tenant defines no custom attribute %s", name, name)
		}
		m = csvimport.WithValue(m, d, value)
	}
	return m, nil
}
