package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store"
)

type userCmd struct {
	Create userCreateCmd `cmd:"" help:"Create a user directly (live at once) and print its id."`
	Invite userInviteCmd `cmd:"" help:"Record an invited user (status invited, user.invited) and print its id."`
	Show   userShowCmd   `cmd:"" help:"Print a user, by id or email."`
	List   userListCmd   `cmd:"" help:"List a tenant's users."`
	Delete userDeleteCmd `cmd:"" help:"Delete a user, by id or email."`
	// ResetLink prints a link for a user to replace a temporary password.
	ResetLink userResetLinkCmd `cmd:"" name:"reset-link" help:"Print a single-use link (24 hours) at which the user replaces a temporary password."`
	Unlock    userUnlockCmd    `cmd:"" help:"Unlock a user locked by 100 failed sign-ins (/auth/v1), recording user.unlocked."`
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
	Attr               []string `help:"A custom attribute value, name=value (repeatable; repeat a multi-valued one per value)."`
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
		User:               directory.DirectUser(u.Email, u.UserName, u.Name),
		EmailVerified:      &u.EmailVerified,
		PasswordMustReset:  &u.PasswordMustReset,
		ForceMFAEnrollment: u.ForceMFAEnrollment,
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
	if in.User.Custom, err = attrFlags(e, svc, u.Tenant, u.Attr); err != nil {
		return err
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

type userInviteCmd struct {
	Tenant string   `required:"" help:"Tenant id."`
	Email  string   `required:"" help:"The user's email, unique in the tenant."`
	Resend bool     `help:"Send a new invitation to the invited user with this email; the earlier links stop working."`
	Name   string   `help:"Display name; split into given and family name."`
	Group  []string `help:"A group to join, by id or name (repeatable); a missing one fails the whole invite."`
	Attr   []string `help:"A custom attribute value, name=value (repeatable; repeat a multi-valued one per value)."`
}

// Run records the invited user in its groups and prints its id; the
// invitation email goes out from the outbox (serve delivers it). With
// --resend it issues a new link to the invited user instead.
func (u *userInviteCmd) Run(e *env, c *cli) error {
	if u.Resend {
		ref := userRef{Tenant: u.Tenant, User: u.Email}
		db, svc, user, err := ref.find(e, c.openSealing)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := svc.ResendInvitation(e.ctx, operator(e), u.Tenant, user.ID); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, user.ID)
		return nil
	}
	db, svc, err := c.openSealing(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	in := directory.UserInput{
		User:   directory.DirectUser(u.Email, "", u.Name),
		Invite: true,
	}
	if in.User.Custom, err = attrFlags(e, svc, u.Tenant, u.Attr); err != nil {
		return err
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

// attrFlags reads --attr flags against the tenant's definitions.
func attrFlags(e *env, svc *directory.Service, tenantID string, attrs []string) (map[string]any, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	defs, err := svc.TenantAttributes(e.ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return customValues(defs, attrs)
}

// userRef names one user of a tenant on the command line.
type userRef struct {
	Tenant string `required:"" help:"Tenant id."`
	User   string `arg:"" help:"The user's id or email."`
}

// opener opens the database for a command (cli.open and its variants).
type opener func(e *env, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, error)

// find opens the database with open and returns the service and the user
// named, by id, else by email. The caller closes the returned store.
func (u *userRef) find(e *env, open opener) (store.Backend, *directory.Service, directory.User, error) {
	db, svc, err := open(e, nil)
	if err != nil {
		return nil, nil, directory.User{}, err
	}
	user, err := svc.User(e.ctx, u.Tenant, u.User)
	if directory.KindOf(err) == directory.KindNotFound {
		f, ferr := query.Users.Equal("emails.value", u.User)
		if ferr != nil {
			return nil, nil, directory.User{}, directory.Errorf(directory.KindInvalidValue, "user", "%q is neither a user id nor an email: %v", u.User, ferr)
		}
		page, perr := svc.Users(e.ctx, u.Tenant, directory.UserQuery{Filter: f, Count: 2})
		switch {
		case perr != nil:
			err = perr
		case len(page.Users) == 1:
			user, err = page.Users[0], nil
		}
	}
	if err != nil {
		db.Close()
		return nil, nil, directory.User{}, err
	}
	return db, svc, user, nil
}

type userShowCmd struct {
	userRef
}

// auditSummary is how many of a user's events user show prints.
const auditSummary = 20

// Run prints the user's main attributes and groups, one a line, then the
// audit summary: the user's own events, newest first.
func (u *userShowCmd) Run(e *env, c *cli) error {
	db, svc, user, err := u.find(e, c.open)
	if err != nil {
		return err
	}
	defer db.Close()
	user, groups, err := svc.UserWithGroups(e.ctx, u.Tenant, user.ID)
	if err != nil {
		return err
	}
	var names, roles []string
	for _, g := range groups {
		names = append(names, g.Display)
	}
	for _, r := range user.Roles {
		roles = append(roles, r.Value)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]any{
		{"id", user.ID}, {"userName", user.UserName}, {"email", user.Email}, {"displayName", user.DisplayName},
		{"givenName", user.Name.GivenName}, {"familyName", user.Name.FamilyName}, {"status", user.PlatformStatus()},
		{"active", user.Active}, {"hasPassword", user.HasPassword()}, {"emailVerified", user.EmailVerified},
		{"passwordMustReset", user.PasswordMustReset}, {"forceMfaEnrollment", user.ForceMFAEnrollment},
		{"groups", strings.Join(names, ", ")}, {"roles", strings.Join(roles, ", ")}, {"created", user.CreatedAt.Format("2006-01-02T15:04:05Z07:00")},
	} {
		fmt.Fprintf(w, "%s\t%v\n", row[0], row[1])
	}
	for _, name := range slices.Sorted(maps.Keys(user.Custom)) {
		v, _ := json.Marshal(user.Custom[name]) // plain values
		fmt.Fprintf(w, "%s\t%s\n", name, v)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	events, err := svc.AuditEvents(e.ctx, u.Tenant, directory.AuditFilter{TargetID: user.ID, Newest: true, Limit: auditSummary})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\naudit (newest first):")
	w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, ev := range events {
		var changes []audit.Change
		_ = json.Unmarshal(ev.Changes, &changes) // sealed events hold valid JSON
		attrs := make([]string, len(changes))
		for j, ch := range changes {
			attrs[j] = ch.Attribute
		}
		fmt.Fprintf(w, "  %s\t%s\t%s:%s\t%s\n", ev.Time.UTC().Format(time.RFC3339), ev.Type, ev.Actor.Kind, ev.Actor.Name, strings.Join(attrs, ", "))
	}
	return w.Flush()
}

type userListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints one line per user, in creation order.
func (u *userListCmd) Run(e *env, c *cli) error {
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSERNAME\tEMAIL\tSTATUS\tACTIVE")
	for start := 1; ; start += directory.MaxPageSize {
		page, err := svc.Users(e.ctx, u.Tenant, directory.UserQuery{StartIndex: start, Count: directory.MaxPageSize})
		if err != nil {
			return err
		}
		for _, user := range page.Users {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\n", user.ID, user.UserName, user.Email, user.PlatformStatus(), user.Active)
		}
		if len(page.Users) < directory.MaxPageSize {
			break
		}
	}
	return w.Flush()
}

type userResetLinkCmd struct {
	userRef
	PublicURL string `name:"public-url" default:"${publicURL}" help:"Address of the server's pages, as serve --public-url (env SCIMD_PUBLIC_URL); default, as serve: --base-url, else the listening address." placeholder:"URL"`
	BaseURL   string `name:"base-url" default:"${baseURL}" help:"The server's --base-url (env SCIMD_BASE_URL)." placeholder:"URL"`
	Listen    string `default:"${listen}" help:"The server's listening address (env SCIMD_LISTEN): the link's last resort, over http." placeholder:"ADDR"`
}

// Run prints the link alone: hand it to the user by a channel you trust.
func (u *userResetLinkCmd) Run(e *env, c *cli) error {
	db, svc, user, err := u.find(e, c.open)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := svc.ResetLink(e.ctx, operator(e), u.Tenant, user.ID)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(cmp.Or(u.PublicURL, u.BaseURL, "http://"+displayHostPort(u.Listen)), "/")
	fmt.Fprintln(e.stdout, base+directory.LinkPath(directory.LinkReset, secret))
	return nil
}

type userUnlockCmd struct {
	userRef
}

// Run unlocks the user's sign-in and says whether it was locked.
func (u *userUnlockCmd) Run(e *env, c *cli) error {
	db, _, user, err := u.find(e, c.open)
	if err != nil {
		return err
	}
	defer db.Close()
	flow, err := signin.NewService(e.ctx, db, nil, nil)
	if err != nil {
		return err
	}
	unlocked, err := flow.Unlock(e.ctx, operator(e), u.Tenant, user.ID)
	if err != nil {
		return err
	}
	if unlocked {
		fmt.Fprintf(e.stdout, "Unlocked %s.\n", user.UserName)
	} else {
		fmt.Fprintf(e.stdout, "%s was not locked.\n", user.UserName)
	}
	return nil
}

type userDeleteCmd struct {
	userRef
}

// Run deletes the user (and its memberships), recording user.deleted.
func (u *userDeleteCmd) Run(e *env, c *cli) error {
	db, svc, user, err := u.find(e, c.open)
	if err != nil {
		return err
	}
	defer db.Close()
	return svc.DeleteUser(e.ctx, operator(e), u.Tenant, user.ID, 0)
}
