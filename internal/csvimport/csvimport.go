// Package csvimport reads the CSV files of a bulk import (the command
// line's scimd import and the console's import page) into domain inputs:
// one row a user, with the line it came from or the reason it cannot be
// one.
package csvimport

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/directory"
)

// Row is one user of a file: its input, or why it cannot be one.
type Row struct {
	Line  int    // the row's line in the file
	Label string // the row's email or userName, for a report (never the row, which may hold a password)
	In    directory.UserInput
	Err   error
}

// columns are the columns a CSV file may have, by lower-case header,
// besides the tenant's custom attributes; email is required. groups holds
// group names or ids separated by ";", as does a multi-valued custom
// attribute its values.
var columns = []string{"email", "username", "name", "givenname", "familyname", "externalid", "password", "groups",
	"emailverified", "passwordmustreset", "mustreset", "forcemfaenrollment", "forcemfa"}

// ReadCSV reads a CSV file with a header row into rows. A header that
// names an unknown column, or lacks email, fails the file; a bad row is a
// refused row.
func ReadCSV(r io.Reader, groupID func(ref string) (string, error), defs []directory.AttributeDef) ([]Row, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read the header row: %w", err)
	}
	col := map[string]int{}
	custom := map[int]*directory.AttributeDef{} // column → the custom attribute it holds
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if d := directory.FindAttribute(defs, name); d != nil && !slices.Contains(columns, name) {
			custom[i] = d
			continue
		}
		if !slices.Contains(columns, name) {
			return nil, fmt.Errorf("unknown column %q; the columns are email, userName, name, givenName, familyName, externalId, password, groups, emailVerified, passwordMustReset, forceMfaEnrollment and the tenant's custom attributes", h)
		}
		col[name] = i
	}
	if _, ok := col["email"]; !ok {
		return nil, errors.New("the header row has no email column")
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err // a quoting error: the rest cannot be read reliably
		}
		line, _ := cr.FieldPos(0)
		row := Row{Line: line}
		if len(rec) != len(header) {
			// The label is the email alone: the row may hold a password.
			if i := col["email"]; i < len(rec) {
				row.Label = strings.TrimSpace(rec[i])
			}
			row.Err = fmt.Errorf("the row has %d fields, the header %d", len(rec), len(header))
			rows = append(rows, row)
			continue
		}
		field := func(names ...string) string {
			for _, n := range names {
				if i, ok := col[n]; ok {
					return strings.TrimSpace(rec[i])
				}
			}
			return ""
		}
		row.Label = field("email")
		row.In, row.Err = csvInput(field, groupID)
		for i, d := range custom {
			row.In.User.Custom = WithField(row.In.User.Custom, d, rec[i])
		}
		rows = append(rows, row)
	}
}

// csvInput turns the fields of one CSV row into a user input.
func csvInput(field func(names ...string) string, groupID func(string) (string, error)) (directory.UserInput, error) {
	email := field("email")
	in := directory.UserInput{User: directory.DirectUser(email, field("username"), field("name")), ExternalID: field("externalid")}
	in.User.Name = directory.Name{GivenName: field("givenname"), FamilyName: field("familyname")}
	if email == "" {
		return in, errors.New("email is required")
	}
	if pw := field("password"); pw != "" {
		in.Password = &pw
	}
	for _, f := range []struct {
		dst   **bool
		names []string
	}{
		{&in.EmailVerified, []string{"emailverified"}},
		{&in.PasswordMustReset, []string{"passwordmustreset", "mustreset"}},
		{&in.ForceMFAEnrollment, []string{"forcemfaenrollment", "forcemfa"}},
	} {
		v := strings.ToLower(field(f.names...))
		switch v {
		case "":
		case "true", "yes", "1":
			*f.dst = ptr(true)
		case "false", "no", "0":
			*f.dst = ptr(false)
		default:
			return in, fmt.Errorf("%s must be true or false, not %q", f.names[0], v)
		}
	}
	if groups := field("groups"); groups != "" {
		for _, ref := range strings.Split(groups, ";") {
			if ref = strings.TrimSpace(ref); ref == "" {
				continue
			}
			id, err := groupID(ref)
			if err != nil {
				return in, err
			}
			in.Groups = append(in.Groups, id)
		}
	}
	return in, nil
}

func ptr[T any](v T) *T { return &v }

// GroupResolver returns a function that finds a group of the tenant by
// name or id, asking the service once per name.
func GroupResolver(ctx context.Context, svc *directory.Service, tenantID string) func(string) (string, error) {
	type answer struct {
		id  string
		err error
	}
	known := map[string]answer{}
	return func(ref string) (string, error) {
		a, ok := known[ref]
		if !ok {
			ids, err := svc.ResolveGroups(ctx, tenantID, []string{ref})
			if err == nil {
				a.id = ids[0]
			}
			a.err = err
			known[ref] = a
		}
		return a.id, a.err
	}
}

// WithField adds the values a text field holds for the custom attribute d
// to m (created when needed): the trimmed field, or for a multi-valued
// attribute each of its ";"-separated parts; empty ones are skipped.
func WithField(m map[string]any, d *directory.AttributeDef, field string) map[string]any {
	values := []string{field}
	if d.MultiValued {
		values = strings.Split(field, ";")
	}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			m = WithValue(m, d, v)
		}
	}
	return m
}

// WithValue adds value to m (created when nil) as the value of the custom
// attribute d: appended to the list of a multi-valued attribute, the value
// of another. The domain checks it against the definition.
func WithValue(m map[string]any, d *directory.AttributeDef, value string) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	if !d.MultiValued {
		m[d.Name] = value
		return m
	}
	list, _ := m[d.Name].([]any)
	m[d.Name] = append(list, value)
	return m
}
