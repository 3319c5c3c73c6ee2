package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
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
	fmt.Fprintln(w, "ID\tNAME\tEXTERNAL ID\tTENANT")
	for _, tenant := range tenants {
		for start := 1; ; start += directory.MaxPageSize {
			page, err := svc.Groups(e.ctx, tenant, directory.GroupQuery{StartIndex: start, Count: directory.MaxPageSize})
			if err != nil {
				return err
			}
			for _, grp := range page.Groups {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", grp.ID, grp.DisplayName, grp.ExternalID, tenant)
			}
			if len(page.Groups) < directory.MaxPageSize {
				break
			}
		}
	}
	return w.Flush()
}

type userCmd struct {
	Create userCreateCmd `cmd:"" help:"Create a user directly (live at once) and print its id."`
}

type userCreateCmd struct {
	Tenant             string   `required:"" help:"Tenant id."`
	Email              string   `required:"" help:"The user's email, unique in the tenant."`
	Name               string   `help:"Display name; split into given and family name."`
	UserName           string   `name:"user-name" help:"userName; default: the email."`
	Group              []string `help:"A group to join, by id or name (repeatable); a missing one fails the whole create."`
	PasswordStdin      bool     `name:"password-stdin" help:"Read a password from the first line of stdin (checked against the tenant's policy)."`
	EmailVerified      bool     `name:"email-verified" help:"The email was verified out of band."`
	PasswordMustReset  bool     `name:"must-reset" help:"The password is temporary: the user must change it at first sign-in."`
	ForceMFAEnrollment *bool    `name:"force-mfa" negatable:"" help:"Make MFA enrolment the first thing (default: the tenant's MFA setting)."`
}

// Run creates the user, in its groups, in one transaction, and prints the
// user's id alone.
func (u *userCreateCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	in := directory.UserInput{
		User: directory.User{
			UserName:    u.UserName,
			DisplayName: u.Name,
			Active:      true,
			Emails:      []directory.Email{{Value: u.Email, Type: "work", Primary: true}},
		},
		EmailVerified:      &u.EmailVerified,
		PasswordMustReset:  &u.PasswordMustReset,
		ForceMFAEnrollment: u.ForceMFAEnrollment,
	}
	if in.User.UserName == "" {
		in.User.UserName = u.Email
	}
	if u.PasswordStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("--password-stdin: read stdin: %w", err)
		}
		if line == "" {
			return errors.New("--password-stdin: no password on stdin")
		}
		pw := strings.TrimRight(line, "\r\n")
		in.Password = &pw
	}
	if len(u.Group) > 0 {
		if in.Groups, err = svc.ResolveGroups(e.ctx, u.Tenant, u.Group); err != nil {
			return err
		}
	}
	user, err := svc.CreateUser(e.ctx, operator(e), u.Tenant, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, user.ID)
	return nil
}
