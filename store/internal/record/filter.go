package record

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
)

// Dialect is what the SQL of filters and sorts differs in between the
// backends.
type Dialect struct {
	// Collate follows a text operand of an ordering comparison or sort key,
	// so that both dialects order strings byte by byte.
	Collate string
	// Bool and Time convert a value to the dialect's column value.
	Bool func(bool) any
	// sqlBool is the literal of a boolean.
	sqlBool func(bool) string
	// seconds is a time column truncated to the second: meta times are
	// served to the second, so filters compare them at that precision.
	seconds func(col string) string
	Time    func(time.Time) any
	// docText returns the SQL of the string at path in the JSON column col,
	// docBool of the boolean there and docValue of whatever is there (for
	// pr).
	docText, docBool, docValue func(col string, path []string) string
	// elements returns the FROM item that yields one row per entry of the
	// JSON array at key in col, aliased as, and elemText/elemBool read a key
	// of that entry.
	elements           func(col, key, as string) string
	elemText, elemBool func(as, key string) string
	// contains, prefix and suffix return the condition that the text x
	// contains, starts with or ends with the string s (never empty).
	contains, prefix, suffix func(x string, s string) (string, []any)
	// number, instant and boolean convert x, the SQL of a JSON scalar read as text
	// or (in SQLite) as its value, to a number and to the value Time
	// gives a dateTime (its canonical UTC form, see
	// directory.AttributeDef), for comparisons and sorts of custom
	// attributes.
	number, instant, boolean func(x string) string
	// elemValue reads an entry of a JSON array of scalars yielded by
	// elements (aliased as).
	elemValue func(as string) string
}

// SQLite is the dialect of the SQLite backend: times are integer
// microseconds, booleans 0 or 1, JSON read with json_extract.
var SQLite = &Dialect{
	Bool: func(b bool) any {
		if b {
			return 1
		}
		return 0
	},
	Time:    func(t time.Time) any { return t.UnixMicro() },
	seconds: func(col string) string { return "(" + col + " / 1000000 * 1000000)" },
	sqlBool: func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	},
	docText:  func(col string, path []string) string { return "json_extract(" + col + ", '" + SQLitePath(path) + "')" },
	docBool:  func(col string, path []string) string { return "json_extract(" + col + ", '" + SQLitePath(path) + "')" },
	docValue: func(col string, path []string) string { return "json_extract(" + col + ", '" + SQLitePath(path) + "')" },
	elements: func(col, key, as string) string {
		return "json_each(" + col + ", '" + SQLitePath(strings.Split(key, ".")) + "') AS " + as
	},
	elemText: func(as, key string) string { return "json_extract(" + as + ".value, '$." + key + "')" },
	elemBool: func(as, key string) string { return "json_extract(" + as + ".value, '$." + key + "')" },
	number:   func(x string) string { return x },
	boolean:  func(x string) string { return x },
	// Microseconds since the epoch of the canonical form
	// 2006-01-02T15:04:05[.fffffffff]Z, exactly: julianday has no
	// microseconds.
	instant: func(x string) string {
		return "(unixepoch(substr(" + x + ", 1, 19)) * 1000000 + CASE WHEN substr(" + x + ", 20, 1) = '.' THEN CAST(substr(substr(" +
			x + ", 21, length(" + x + ") - 21) || '000000', 1, 6) AS INTEGER) ELSE 0 END)"
	},
	elemValue: func(as string) string { return as + ".value" },
	// instr and substr, not LIKE: SQLite's LIKE ignores ASCII case.
	contains: func(x, s string) (string, []any) { return "instr(" + x + ", ?) > 0", []any{s} },
	prefix:   func(x, s string) (string, []any) { return "substr(" + x + ", 1, length(?)) = ?", []any{s, s} },
	suffix:   func(x, s string) (string, []any) { return "substr(" + x + ", -length(?)) = ?", []any{s, s} },
}

// Postgres is the dialect of the PostgreSQL backend: timestamptz,
// boolean, jsonb. Substring tests are LIKE patterns, which the trigram
// indexes serve.
var Postgres = &Dialect{
	Collate: ` COLLATE "C"`,
	Bool:    func(b bool) any { return b },
	Time:    func(t time.Time) any { return t },
	seconds: func(col string) string { return "date_trunc('second', " + col + ")" },
	sqlBool: func(b bool) string {
		if b {
			return "TRUE"
		}
		return "FALSE"
	},
	docText:  func(col string, path []string) string { return jsonPath(col, path, "->>") },
	docBool:  func(col string, path []string) string { return "(" + jsonPath(col, path, "->>") + ")::boolean" },
	docValue: func(col string, path []string) string { return jsonPath(col, path, "->") },
	elements: func(col, key, as string) string {
		return "jsonb_array_elements(" + jsonPath(col, strings.Split(key, "."), "->") + ") AS " + as + "(v)"
	},
	elemText:  func(as, key string) string { return as + ".v->>'" + key + "'" },
	elemBool:  func(as, key string) string { return "(" + as + ".v->>'" + key + "')::boolean" },
	contains:  func(x, s string) (string, []any) { return x + " LIKE ?", []any{"%" + likeEscape(s) + "%"} },
	prefix:    func(x, s string) (string, []any) { return x + " LIKE ?", []any{likeEscape(s) + "%"} },
	suffix:    func(x, s string) (string, []any) { return x + " LIKE ?", []any{"%" + likeEscape(s)} },
	number:    func(x string) string { return "(" + x + ")::float8" },
	boolean:   func(x string) string { return "(" + x + ")::boolean" },
	instant:   func(x string) string { return "(" + x + ")::timestamptz" },
	elemValue: func(as string) string { return as + ".v #>> '{}'" },
}

// SQLitePath is the SQLite JSON path of the keys: $.a.b, with a key that
// is not a plain name (such as a custom attribute's "cost-center") quoted.
// Keys are attribute names (RFC 7643 ATTRNAME), never a quote.
func SQLitePath(path []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range path {
		b.WriteString(".")
		if strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == "" {
			b.WriteString(k)
		} else {
			b.WriteString(`"` + k + `"`)
		}
	}
	return b.String()
}

// jsonPath is col->'a'->'b'<last>'c': the same expression the trigram
// indexes are built on for a one-key path.
func jsonPath(col string, path []string, last string) string {
	s := col
	for i, k := range path {
		if i == len(path)-1 {
			s += last + "'" + k + "'"
		} else {
			s += "->'" + k + "'"
		}
	}
	return s
}

// likeEscape makes s match itself in a LIKE pattern (PostgreSQL's default
// escape character, the backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Where returns the SQL condition, with ? placeholders, and its arguments
// that select the tenant's resources of rt matching e (nil: all of them).
// The tenant condition comes first. An attribute the store cannot compare
// this way is a *query.Error.
func Where(d *Dialect, rt *Resource, tenantID string, e query.Expr) (string, []any, error) {
	c := compiler{d: d, rt: rt, tenantID: tenantID}
	c.b.WriteString(rt.alias + ".tenant_id = ?")
	c.args = append(c.args, tenantID)
	if e == nil {
		return c.b.String(), c.args, nil
	}
	c.b.WriteString(" AND ")
	if err := c.expr(e, ""); err != nil {
		return "", nil, err
	}
	return c.b.String(), c.args, nil
}

// Resource is where the attributes of a resource type are stored.
type Resource struct {
	name   string // the resource type
	table  string
	alias  string
	fields map[string]field // by query.Attr.Key
	// arrays are the multi-valued attributes kept in the document, by
	// lower-case name, with their JSON key.
	arrays map[string]string
	// doc maps a document attribute's lower-case name to its JSON path.
	doc map[string][]string
	// unique are the fields (by query.Attr.Key) whose equality selects at
	// most one resource of a tenant: a unique column.
	unique map[string]bool
	// member is the correlated condition that joins the rows of
	// group_members (alias m) of a resource.
	member func(alias string) string
	// externals is the table of the resource's externalIds: one row per
	// connection, resource_id naming the resource.
	externals string
	// connection is the connection whose externalId is compared (see For).
	connection string
	// counts is the table that keeps the number of the tenant's resources
	// (users, changes; a row per shard), or "" when a count counts rows.
	counts string
	// perConnection keeps what For made, by connection; nil in what For
	// returns.
	perConnection *connectionCache
}

// connectionCache is a Resource's resources for each connection: For
// builds one per connection and request otherwise, a map copy on every
// list.
type connectionCache struct {
	m sync.Map // connection id → *Resource
	n atomic.Int64
}

// For returns rt for the requests of one provisioning connection (a token
// id, "" for operators): externalId then means that connection's
// externalId (directory.ExternalIDs). rt itself cannot compare or sort by
// externalId, so a caller that forgets For gets an error, never another
// connection's ids.
func (rt *Resource) For(connection string) (*Resource, error) {
	if rt.perConnection != nil {
		if c, ok := rt.perConnection.m.Load(connection); ok {
			return c.(*Resource), nil
		}
	}
	// The id is a literal in the sort key's SQL: hex digits and dashes only.
	if len(connection) > 36 || strings.Trim(connection, "0123456789abcdef-") != "" {
		return nil, fmt.Errorf("connection id %q is not a token id", connection)
	}
	c := *rt
	c.perConnection = nil
	c.connection = connection
	c.fields = maps.Clone(rt.fields)
	c.fields["externalid"] = field{
		expr: "(SELECT x.external_id FROM " + rt.externals + " x WHERE x.tenant_id = " + rt.alias + ".tenant_id AND x.resource_id = " +
			rt.alias + ".id AND x.connection_id = '" + connection + "')",
		text: true, nullable: true, special: externalID,
	}
	if rt.perConnection != nil && rt.perConnection.n.Add(1) <= maxCachedConnections {
		rt.perConnection.m.Store(connection, &c)
	}
	return &c, nil
}

// maxCachedConnections bounds the resources For keeps, one per connection
// (token) that has listed: enough for every token of a large deployment,
// while a stream of new tokens cannot grow the cache without end.
const maxCachedConnections = 10000

// field is an attribute stored in a column, or computed.
type field struct {
	expr     string // the value; for a case-insensitive string, its folded key
	text     bool
	nullable bool
	special  special
}

type special uint8

const (
	plain        special = iota
	emailsValue          // users' emails.value: user_emails, and the platform email
	groupsValue          // users' groups.value: memberships, direct or through groups
	membersValue         // groups' members.value
	membersType          // groups' members.type
	resourceType         // meta.resourceType: a constant
	externalID           // the connection's externalId (see For)
)

// Users is where user attributes are stored: columns for the keys and
// flags, the rest in the document (doc, and doc_key with every string
// case-folded).
var Users = &Resource{
	name:   "User",
	table:  "users",
	alias:  "u",
	counts: "user_counts",
	fields: map[string]field{
		"id":                {expr: "u.id", text: true},
		"username":          {expr: "u.user_name_key", text: true},
		"active":            {expr: "u.active"},
		"meta.created":      {expr: "u.created_at"},
		"meta.lastmodified": {expr: "u.updated_at"},
		"meta.resourcetype": {special: resourceType},
		"emails.value":      {expr: "u.email_key", text: true, special: emailsValue},
		"groups.value":      {special: groupsValue},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:emailverified":      {expr: "u.email_verified"},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:passwordmustreset":  {expr: "u.password_must_reset"},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:forcemfaenrollment": {expr: "u.force_mfa_enrollment"},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:mfaenrolled":        {expr: "u.mfa_enrolled"},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:haspassword":        {expr: "(u.password_hash <> '')"},
		// status is directory.User.PlatformStatus, in SQL.
		"urn:ietf:params:scim:schemas:extension:platform:2.0:user:status": {expr: "(CASE WHEN NOT u.active THEN 'deactivated' WHEN EXISTS (SELECT 1 FROM signin_accounts sa WHERE sa.user_id = u.id AND sa.locked_at IS NOT NULL) THEN 'locked' ELSE u.status END)", text: true},
	},
	arrays: map[string]string{
		"emails": "emails", "phonenumbers": "phoneNumbers", "ims": "ims", "photos": "photos", "addresses": "addresses",
		"entitlements": "entitlements", "roles": "roles", "x509certificates": "x509Certificates",
	},
	doc: docPaths(map[string]string{
		"name": "name", "displayname": "displayName", "nickname": "nickName", "profileurl": "profileUrl", "title": "title",
		"usertype": "userType", "preferredlanguage": "preferredLanguage", "locale": "locale", "timezone": "timezone",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber": "enterprise.employeeNumber",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:costcenter":     "enterprise.costCenter",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:organization":   "enterprise.organization",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:division":       "enterprise.division",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department":     "enterprise.department",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager":        "enterprise.manager",
	}),
	unique:        map[string]bool{"id": true, "username": true},
	member:        func(m string) string { return m + ".tenant_id = u.tenant_id AND " + m + ".member_id = u.id" },
	externals:     "user_external_ids",
	perConnection: &connectionCache{},
}

// Groups is where group attributes are stored, all in columns and
// group_members.
var Groups = &Resource{
	name:  "Group",
	table: "groups",
	alias: "g",
	fields: map[string]field{
		"id":                {expr: "g.id", text: true},
		"displayname":       {expr: "g.display_name_key", text: true},
		"meta.created":      {expr: "g.created_at"},
		"meta.lastmodified": {expr: "g.updated_at"},
		"meta.resourcetype": {special: resourceType},
		"members.value":     {special: membersValue},
		"members.type":      {special: membersType},
	},
	unique:        map[string]bool{"id": true, "displayname": true},
	member:        func(m string) string { return m + ".tenant_id = g.tenant_id AND " + m + ".group_id = g.id" },
	externals:     "group_external_ids",
	perConnection: &connectionCache{},
}

func docPaths(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = strings.Split(v, ".")
	}
	return out
}

type compiler struct {
	d        *Dialect
	rt       *Resource
	tenantID string
	b        strings.Builder
	args     []any
}

func (c *compiler) write(sql string, args ...any) {
	c.b.WriteString(sql)
	c.args = append(c.args, args...)
}

// expr writes the condition of e; inside a value filter, elem is the alias
// of the entry being tested.
func (c *compiler) expr(e query.Expr, elem string) error {
	switch e := e.(type) {
	case *query.And, *query.Or:
		x, y, op := binary(e)
		c.write("(")
		if err := c.expr(x, elem); err != nil {
			return err
		}
		c.write(op)
		if err := c.expr(y, elem); err != nil {
			return err
		}
		c.write(")")
		return nil
	case *query.Not:
		// A comparison with an absent value is NULL; NOT of it must be true.
		c.write("NOT COALESCE((")
		if err := c.expr(e.X, elem); err != nil {
			return err
		}
		c.write("), FALSE)")
		return nil
	case *query.Has:
		return c.has(e)
	case *query.Compare:
		if elem != "" {
			return c.elemCompare(e, elem)
		}
		return c.compare(e)
	}
	return fmt.Errorf("unknown filter node %T", e)
}

func binary(e query.Expr) (x, y query.Expr, op string) {
	if a, ok := e.(*query.And); ok {
		return a.X, a.Y, " AND "
	}
	o := e.(*query.Or)
	return o.X, o.Y, " OR "
}

func (c *compiler) compare(e *query.Compare) error {
	if e.Op == query.Ne {
		// ne is not eq: no value of a multi-valued attribute equals, and an
		// absent value matches.
		eq := *e
		eq.Op = query.Eq
		return c.expr(&query.Not{X: &eq}, "")
	}
	a := e.Attr
	if f, ok := c.rt.fields[a.Key()]; ok {
		switch f.special {
		case plain:
			if a.Type == query.DateTime && e.Op != query.Pr {
				return c.scalar(e, c.d.seconds(f.expr), false)
			}
			return c.scalar(e, f.expr, f.text)
		case resourceType:
			if query.Match(e, map[string]any{"meta": map[string]any{"resourceType": c.rt.name}}) {
				c.write("1 = 1")
			} else {
				c.write("1 = 0")
			}
			return nil
		case emailsValue:
			if e.Op == query.Eq {
				// Any entry of emails, or the platform email when it came
				// from userName (no emails sent), the key the unique index
				// holds, so a search finds the user a 409 refers to. IN,
				// not a correlated EXISTS: the index lookups drive the
				// query.
				key := e.Value.Key // email.Key of the address (query.Value)
				c.write(`u.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ? AND e.value_key = ?
					UNION ALL SELECT x.id FROM users x WHERE x.tenant_id = ? AND x.email_key = ?)`,
					c.tenantID, key, c.tenantID, key)
				return nil
			}
			if e.Op != query.Pr {
				// Any entry of emails: their rows in user_emails, which the
				// trigram index serves on PostgreSQL.
				c.write("u.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ? AND ", c.tenantID)
				if err := c.scalar(e, "e.value_key", true); err != nil {
					return err
				}
				c.write(")")
				return nil
			}
		case externalID:
			if e.Op == query.Eq {
				// The index of (tenant, connection, externalId) drives it.
				c.write(c.rt.alias+".id IN (SELECT x.resource_id FROM "+c.rt.externals+" x WHERE x.tenant_id = ? AND x.connection_id = ? AND x.external_id = ?)",
					c.tenantID, c.rt.connection, e.Value.Key)
				return nil
			}
			return c.scalar(e, f.expr, f.text)
		case groupsValue:
			return c.groupsValue(e)
		case membersValue, membersType:
			if f.special == membersValue && e.Op == query.Eq {
				c.write("g.id IN (SELECT fm.group_id FROM group_members fm WHERE fm.tenant_id = ? AND fm.member_id = ?)", c.tenantID, e.Value.Key)
				return nil
			}
			c.write("EXISTS (SELECT 1 FROM group_members m WHERE " + c.rt.member("m") + " AND ")
			if err := c.memberCompare(e, "m"); err != nil {
				return err
			}
			c.write(")")
			return nil
		}
	}
	if key, ok := c.rt.arrays[strings.ToLower(a.Name)]; ok && !a.Extension && a.Sub != "" {
		c.write("EXISTS (SELECT 1 FROM " + c.d.elements(c.doc(), key, "j") + " WHERE ")
		if err := c.elemCompare(e, "j"); err != nil {
			return err
		}
		c.write(")")
		return nil
	}
	if a.Schema == directory.CustomURN && a.Extension {
		return c.customCompare(e)
	}
	if path, ok := c.docPath(a); ok {
		return c.docCompare(e, path)
	}
	return query.Errorf("%s cannot be compared in a filter", a.Path())
}

// customDoc returns the document column that holds a custom attribute's
// values as its comparisons need them: doc_key (strings folded) for a
// case-insensitive string, doc otherwise.
func (c *compiler) customDoc(a *query.Attr) string {
	if (a.Type == query.String || a.Type == query.Reference) && !a.CaseExact {
		return c.rt.alias + ".doc_key"
	}
	return c.rt.alias + ".doc"
}

// customValue converts x, a custom attribute's value read as text, to what
// its type compares: a number, an instant, a boolean or the text itself.
func (c *compiler) customValue(a *query.Attr, x string) (string, bool) {
	switch a.Type {
	case query.Integer, query.Decimal:
		return c.d.number(x), false
	case query.DateTime:
		return c.d.instant(x), false
	}
	return x, a.Type != query.Boolean
}

// customCompare writes a comparison of a custom attribute (stored in the
// document under "custom"): of its value, or of any of its values when it
// is multi-valued.
func (c *compiler) customCompare(e *query.Compare) error {
	a := e.Attr
	col, path := c.customDoc(a), []string{"custom", a.Name}
	if e.Op == query.Pr {
		c.write(c.d.docValue(col, path) + " IS NOT NULL")
		return nil
	}
	if a.MultiValued {
		c.write("EXISTS (SELECT 1 FROM " + c.d.elements(col, "custom."+a.Name, "cj") + " WHERE ")
		x, text := c.customValue(a, c.d.elemValue("cj"))
		if a.Type == query.Boolean {
			x = c.d.boolean(x)
		}
		if err := c.scalar(e, x, text); err != nil {
			return err
		}
		c.write(")")
		return nil
	}
	if a.Type == query.Boolean {
		return c.scalar(e, c.d.docBool(col, path), false)
	}
	x, text := c.customValue(a, c.d.docText(col, path))
	return c.scalar(e, x, text)
}

// scalar writes the comparison of the SQL value x (text: a string, which
// orders with the dialect's collation) with e's value.
func (c *compiler) scalar(e *query.Compare, x string, text bool) error {
	v := e.Value
	if e.Op == query.Pr {
		c.write(x + " IS NOT NULL")
		return nil
	}
	var arg any
	switch {
	case v.Kind == query.KindBool:
		arg = c.d.Bool(v.Bool)
	case v.Kind == query.KindString && e.Attr.Type == query.DateTime:
		arg = c.d.Time(v.Time)
	case v.Kind == query.KindString:
		arg = v.Key
	case v.Kind == query.KindNumber && (e.Attr.Type == query.Integer || e.Attr.Type == query.Decimal):
		arg = v.Num
	default:
		return query.Errorf("%s cannot be compared with a number", e.Attr.Path())
	}
	switch e.Op {
	case query.Eq:
		c.write(x+" = ?", arg)
	case query.Ne:
		c.write("NOT COALESCE(("+x+" = ?), FALSE)", arg)
	case query.Co, query.Sw, query.Ew:
		if v.Key == "" {
			c.write(x + " IS NOT NULL")
			return nil
		}
		test := map[query.Op]func(string, string) (string, []any){query.Co: c.d.contains, query.Sw: c.d.prefix, query.Ew: c.d.suffix}[e.Op]
		cond, args := test(x, v.Key)
		c.write(cond, args...)
	default:
		if text {
			x += c.d.Collate
		}
		c.write(x+" "+map[query.Op]string{query.Gt: ">", query.Ge: ">=", query.Lt: "<", query.Le: "<="}[e.Op]+" ?", arg)
	}
	return nil
}

// doc returns the document column that holds values of a comparison:
// doc_key, whose strings are case-folded; caseExact strings would read doc.
func (c *compiler) doc() string { return c.rt.alias + ".doc_key" }

// docPath returns where a singular document attribute (or a sub-attribute
// of a singular complex one) is in the document.
func (c *compiler) docPath(a *query.Attr) ([]string, bool) {
	top := strings.ToLower(a.Name)
	if a.Extension {
		top = strings.ToLower(a.Schema) + ":" + top
	}
	path, ok := c.rt.doc[top]
	if !ok {
		return nil, false
	}
	if a.Sub != "" {
		path = append(append([]string(nil), path...), a.Sub)
	}
	return path, true
}

func (c *compiler) docCompare(e *query.Compare, path []string) error {
	a := e.Attr
	switch {
	case a.Type == query.Complex || e.Op == query.Pr:
		c.write(c.d.docValue(c.doc(), path) + " IS NOT NULL")
		return nil
	case a.CaseExact && a.Type != query.Boolean:
		return query.Errorf("%s cannot be compared in a filter", a.Path())
	case a.Type == query.Boolean:
		return c.scalar(e, c.d.docBool(c.doc(), path), false)
	}
	return c.scalar(e, c.d.docText(c.doc(), path), true)
}

// elemCompare writes the comparison of a sub-attribute within the entry
// elem of a value filter: a document array entry (j) or a group member (m).
func (c *compiler) elemCompare(e *query.Compare, elem string) error {
	if elem == "m" {
		return c.memberCompare(e, elem)
	}
	a := e.Attr
	switch {
	case e.Op == query.Pr:
		c.write(c.d.elemText(elem, a.Sub) + " IS NOT NULL")
		return nil
	case a.Type == query.Boolean:
		return c.scalar(e, c.d.elemBool(elem, a.Sub), false)
	case a.CaseExact:
		return query.Errorf("%s cannot be compared in a filter", a.Path())
	}
	return c.scalar(e, c.d.elemText(elem, a.Sub), true)
}

// memberCompare compares members.value (the member's id, caseExact) or
// members.type (User or Group, case-insensitive) of the group_members row m.
func (c *compiler) memberCompare(e *query.Compare, m string) error {
	switch strings.ToLower(e.Attr.Sub) {
	case "value":
		return c.scalar(e, m+".member_id", true)
	case "type":
		return c.scalar(e, "lower("+m+".member_type)", true)
	}
	return query.Errorf("%s cannot be compared in a filter; members.value and members.type can", e.Attr.Path())
}

// groupsValue writes a users' groups.value comparison: eq finds the
// members of the group and of the groups inside it, as the groups
// attribute lists direct and indirect memberships; pr finds users with a
// membership.
func (c *compiler) groupsValue(e *query.Compare) error {
	switch e.Op {
	case query.Eq:
		c.write(`u.id IN (WITH RECURSIVE down (id) AS (
				SELECT ?
				UNION
				SELECT dm.member_id FROM group_members dm JOIN down ON dm.group_id = down.id WHERE dm.tenant_id = ? AND dm.member_type = 'Group'
			)
			SELECT um.member_id FROM group_members um JOIN down ON um.group_id = down.id WHERE um.tenant_id = ? AND um.member_type = 'User')`,
			e.Value.Key, c.tenantID, c.tenantID)
	case query.Pr:
		c.write("EXISTS (SELECT 1 FROM group_members pm WHERE " + c.rt.member("pm") + ")")
	default:
		return query.Errorf("groups.value supports eq and pr")
	}
	return nil
}

// has writes a value filter: one entry of the attribute matches h.Where.
func (c *compiler) has(h *query.Has) error {
	name := strings.ToLower(h.Attr.Name)
	if key, ok := c.rt.arrays[name]; ok && !h.Attr.Extension {
		if v, ok := conjunctEq(h.Where, "value"); ok && name == "emails" {
			// The index of emails.value narrows the candidates first.
			c.write("u.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ? AND e.value_key = ?) AND ", c.tenantID, v.Key)
		}
		c.write("EXISTS (SELECT 1 FROM " + c.d.elements(c.doc(), key, "j") + " WHERE ")
		if err := c.expr(h.Where, "j"); err != nil {
			return err
		}
		c.write(")")
		return nil
	}
	switch {
	case c.rt.name == Groups.name && name == "members":
		c.write("EXISTS (SELECT 1 FROM group_members m WHERE " + c.rt.member("m") + " AND ")
		if err := c.expr(h.Where, "m"); err != nil {
			return err
		}
		c.write(")")
		return nil
	case c.rt.name == Users.name && name == "groups":
		// One membership matching value eq is a membership of that group,
		// as outside brackets; other forms would need each membership.
		if cmp, ok := h.Where.(*query.Compare); !ok || cmp.Op != query.Eq && cmp.Op != query.Pr {
			return query.Errorf("groups[...] takes one comparison, value eq or value pr")
		}
		return c.expr(h.Where, "")
	case h.Attr.MultiValued:
		return query.Errorf("%s[...] is not supported", h.Attr.Path())
	}
	// A singular complex attribute: present, and its sub-attributes
	// compared as they are outside brackets.
	path, ok := c.docPath(h.Attr)
	if !ok {
		return query.Errorf("%s[...] is not supported", h.Attr.Path())
	}
	c.write("(" + c.d.docValue(c.doc(), path) + " IS NOT NULL AND ")
	if err := c.expr(h.Where, ""); err != nil {
		return err
	}
	c.write(")")
	return nil
}

// conjunctEq returns the value of a sub eq comparison that e requires (e
// itself, or a term of its top-level ands).
func conjunctEq(e query.Expr, sub string) (query.Value, bool) {
	switch e := e.(type) {
	case *query.And:
		if v, ok := conjunctEq(e.X, sub); ok {
			return v, true
		}
		return conjunctEq(e.Y, sub)
	case *query.Compare:
		if e.Op == query.Eq && strings.EqualFold(e.Attr.Sub, sub) {
			return e.Value, true
		}
	}
	return query.Value{}, false
}

// SortKey is the SQL of the value a list is sorted by.
type SortKey struct {
	Expr     string
	Text     bool // a string: compared with the dialect's collation
	Nullable bool // may be NULL: NULLs sort last ascending
}

// SortKeyOf returns the sort key of an attribute: a column, a document
// value or, for emails, the platform email (the primary one). Other
// attributes cannot be sorted by.
func SortKeyOf(d *Dialect, rt *Resource, a *query.Attr) (SortKey, error) {
	if f, ok := rt.fields[a.Key()]; ok && f.expr != "" {
		return SortKey{Expr: f.expr, Text: f.text, Nullable: f.nullable}, nil
	}
	c := compiler{d: d, rt: rt}
	if key, ok := rt.arrays[strings.ToLower(a.Name)]; ok && !a.Extension && a.MultiValued && strings.EqualFold(a.Sub, "value") {
		// The primary entry's value.
		return SortKey{Expr: "(SELECT " + d.elemText("pj", "value") + " FROM " + d.elements(c.doc(), key, "pj") +
			" WHERE " + d.elemBool("pj", "primary") + " = " + d.sqlBool(true) + " LIMIT 1)", Text: true, Nullable: true}, nil
	}
	if a.Schema == directory.CustomURN && a.Extension && !a.MultiValued {
		col, path := c.customDoc(a), []string{"custom", a.Name}
		if a.Type == query.Boolean {
			return SortKey{Expr: d.docBool(col, path), Nullable: true}, nil
		}
		x, text := c.customValue(a, d.docText(col, path))
		return SortKey{Expr: x, Text: text, Nullable: true}, nil
	}
	if path, ok := c.docPath(a); ok && a.Type != query.Complex && !a.CaseExact {
		if a.Type == query.Boolean {
			return SortKey{Expr: d.docBool(c.doc(), path), Nullable: true}, nil
		}
		return SortKey{Expr: d.docText(c.doc(), path), Text: true, Nullable: true}, nil
	}
	return SortKey{}, query.Errorf("%s cannot be sorted by", a.Path())
}

// ListStatements are the statements of one page of a list, with ?
// placeholders: Page selects the total that matched, the sort key and the
// columns of each resource of the page; Count the total alone, for a
// request of no resources or past the end.
type ListStatements struct {
	Page      string
	PageArgs  []any
	Count     string
	CountArgs []any
	// Exact: the filter selects at most one resource (atMostOne) and the
	// page starts at the first, so the page is every match. Page then
	// counts nothing (its total column is 0): the total is the number of
	// rows it returns, and Count is not needed, even for none.
	Exact bool
	// Changes: Page selects the tenant's changes after the total.
	Changes bool
}

// exact reports whether a page of filter is every match (ListStatements.Exact):
// a page from the first of at most one.
func exact(rt *Resource, filter query.Expr, after *directory.Keyset, startIndex int) bool {
	return after == nil && startIndex <= 1 && atMostOne(rt, filter)
}

// atMostOne reports whether filter selects at most one resource of rt in a
// tenant: an equality on a unique field (an id, a userName, a group's
// displayName), alone or and-ed with anything. It is what identity
// providers send before every write (userName eq "..."), so such a lookup
// reads the one row and neither counts nor sorts.
func atMostOne(rt *Resource, filter query.Expr) bool {
	switch e := filter.(type) {
	case *query.Compare:
		return e.Op == query.Eq && e.Value.Kind == query.KindString && rt.unique[e.Attr.Key()]
	case *query.And:
		return atMostOne(rt, e.X) || atMostOne(rt, e.Y)
	}
	return false
}

// List returns the statements of a page of the tenant's resources of rt
// matching filter, sorted by s (nil: creation order), selecting columns:
// count from startIndex (1-based), or after the keyset position when
// after is set (cursor paging: no offset, so a deep page costs what the
// first does; and no count, so the page's total is -1).
//
// A page without a filter in creation order of a resource whose number
// is kept (users) also selects, after the total, the tenant's changes
// (see Position; ListStatements.Changes). resume, for such a page from
// startIndex, is the resource before startIndex as a page ended with it:
// the page then starts after it instead of skipping startIndex-1
// resources, and is right if the changes it selects are still
// resume.Changes.
func List(d *Dialect, rt *Resource, columns, tenantID string, filter query.Expr, s *directory.Sort, after *directory.Keyset, resume *Position, startIndex, count int) (ListStatements, error) {
	cond, args, err := Where(d, rt, tenantID, filter)
	if err != nil {
		return ListStatements{}, err
	}
	order, err := OrderBy(d, rt, s)
	if err != nil {
		return ListStatements{}, err
	}
	key, err := sortKey(d, rt, s)
	if err != nil {
		return ListStatements{}, err
	}
	from := " FROM " + rt.table + " " + rt.alias + " WHERE "
	st := ListStatements{Count: "SELECT count(*)" + from + cond, CountArgs: args}
	// lead selects what a counted page's row has between the total and the
	// sort key, with its arguments: the changes (never with a filter or
	// after a position, so not in the first two cases below).
	lead, leadArgs := "", []any(nil)
	if rt.counts != "" && filter == nil {
		st.Count = "SELECT CAST(COALESCE(sum(c.users), 0) AS bigint) FROM " + rt.counts + " c WHERE c.tenant_id = ?"
		st.CountArgs = []any{tenantID}
		if s == nil && after == nil {
			lead = "(SELECT CAST(COALESCE(sum(c.changes), 0) AS bigint) FROM " + rt.counts + " c WHERE c.tenant_id = ?) AS changes, "
			leadArgs = []any{tenantID}
			st.Changes = true
		}
	}
	// counted selects the total and the lead.
	counted := func() (string, []any) {
		return "SELECT (" + st.Count + ") AS total, " + lead, append(append([]any(nil), st.CountArgs...), leadArgs...)
	}
	pageCond, pageArgs := cond, append([]any(nil), args...)
	if after != nil {
		kc, kargs := keyset(d, rt, key, s != nil && s.Desc, after)
		pageCond += " AND " + kc
		pageArgs = append(pageArgs, kargs...)
	}
	switch {
	case after != nil:
		// A page after a position is not counted: a count reads every match,
		// which would make each page of an export cost the whole tenant.
		st.Page = "SELECT -1 AS total, " + key.Expr + " AS sort_key, " + columns + from + pageCond + " ORDER BY " + order + " LIMIT ?"
		st.PageArgs = append(pageArgs, count)
	case exact(rt, filter, after, startIndex):
		st.Page = "SELECT 0 AS total, " + key.Expr + " AS sort_key, " + columns + from + cond + " LIMIT ?"
		st.PageArgs = append(pageArgs, count)
		st.Exact = true
	case startIndex <= 1:
		sel, selArgs := counted()
		st.Page = sel + key.Expr + " AS sort_key, " + columns + from + pageCond + " ORDER BY " + order + " LIMIT ?"
		st.PageArgs = append(append(selArgs, pageArgs...), count)
	case resume != nil:
		kc, kargs := keyset(d, rt, key, false, &directory.Keyset{Key: resume.Key, ID: resume.ID})
		sel, selArgs := counted()
		st.Page = sel + key.Expr + " AS sort_key, " + columns + from + pageCond + " AND " + kc + " ORDER BY " + order + " LIMIT ?"
		st.PageArgs = append(append(append(selArgs, pageArgs...), kargs...), count)
	default:
		// A deep offset skips ids only, in the index, and reads the rows of
		// the page alone.
		alias := rt.alias
		sel, selArgs := counted()
		st.Page = sel + key.Expr + " AS sort_key, " + columns + from + alias + ".tenant_id = ? AND " +
			alias + ".id IN (SELECT " + alias + ".id" + from + pageCond + " ORDER BY " + order + " LIMIT ? OFFSET ?) ORDER BY " + order
		st.PageArgs = append(append(append(selArgs, tenantID), pageArgs...), count, startIndex-1)
	}
	return st, nil
}

// sortKey is the key a page is ordered by before the id: the sort
// attribute's, or the creation time.
func sortKey(d *Dialect, rt *Resource, s *directory.Sort) (SortKey, error) {
	if s == nil {
		return SortKey{Expr: rt.alias + ".created_at"}, nil
	}
	return SortKeyOf(d, rt, s.Attr)
}

// keyset returns the condition that selects what comes after the position
// in the order of OrderBy: by key, then id, NULL keys last ascending and
// first descending.
func keyset(d *Dialect, rt *Resource, k SortKey, desc bool, after *directory.Keyset) (string, []any) {
	id := rt.alias + ".id" + d.Collate
	x := k.Expr
	if k.Text {
		x += d.Collate
	}
	gt, null := ">", after.Key == nil
	if desc {
		gt = "<"
	}
	if k.Expr == rt.alias+".id" {
		return id + " " + gt + " ?", []any{after.ID}
	}
	if !k.Nullable {
		// A row value: both dialects range-scan the index of (key, id).
		return "(" + x + ", " + id + ") " + gt + " (?, ?)", []any{after.Key, after.ID}
	}
	switch {
	case !desc && null: // among the NULLs, at the end
		return "(" + k.Expr + " IS NULL AND " + id + " > ?)", []any{after.ID}
	case !desc:
		cond := "(" + x + " > ? OR (" + k.Expr + " = ? AND " + id + " > ?)"
		if k.Nullable {
			cond += " OR " + k.Expr + " IS NULL"
		}
		return cond + ")", []any{after.Key, after.Key, after.ID}
	case null: // descending: the NULLs first, then every value
		return "((" + k.Expr + " IS NULL AND " + id + " < ?) OR " + k.Expr + " IS NOT NULL)", []any{after.ID}
	}
	return "(" + x + " < ? OR (" + k.Expr + " = ? AND " + id + " < ?))", []any{after.Key, after.Key, after.ID}
}

// UserList returns the statements of a page of users over UserColumns:
// List (resume as there), and with q.Groups each user's groups ahead of
// UserColumns, as the dialect's groupsColumn computes them for the user u
// (a JSON array of [id, display name, direct], which DecodeUserGroups
// reads). The groups are computed in an outer query over the page, so for
// its users alone, not for every match a sort goes through. Rows lead with
// the total, the changes (ListStatements.Changes) and the sort key;
// ReadUserPage reads them.
func UserList(d *Dialect, tenantID string, q directory.UserQuery, resume *Position, groupsColumn string) (ListStatements, error) {
	users, err := Users.For(q.Connection)
	if err != nil {
		return ListStatements{}, err
	}
	switch {
	case !q.Groups:
		return List(d, users, UserColumns, tenantID, q.Filter, q.Sort, q.After, resume, q.StartIndex, q.Count)
	case exact(users, q.Filter, q.After, q.StartIndex):
		// The one row needs no page to order: its groups are selected
		// beside it.
		return List(d, users, groupsColumn+", "+UserColumns, tenantID, q.Filter, q.Sort, q.After, resume, q.StartIndex, q.Count)
	}
	st, err := List(d, users, "u.*", tenantID, q.Filter, q.Sort, q.After, resume, q.StartIndex, q.Count)
	if err != nil {
		return ListStatements{}, err
	}
	order, err := OrderBy(d, users, q.Sort)
	if err != nil {
		return ListStatements{}, err
	}
	changes := ""
	if st.Changes {
		changes = "u.changes, "
	}
	st.Page = "SELECT u.total, " + changes + "u.sort_key, " + groupsColumn + ", " + UserColumns + " FROM (" + st.Page + ") u ORDER BY " + order
	return st, nil
}

// GroupList returns the statements of a page of groups: List, and with
// members each group's member rows joined to the page (MemberColumns and
// MemberJoin), ordered by group, then member. Rows lead with the total and
// the sort key; ReadGroupPage reads them.
func GroupList(d *Dialect, tenantID string, q directory.GroupQuery) (ListStatements, error) {
	groups, err := Groups.For(q.Connection)
	if err != nil {
		return ListStatements{}, err
	}
	if !q.Members {
		return List(d, groups, GroupColumns, tenantID, q.Filter, q.Sort, q.After, nil, q.StartIndex, q.Count)
	}
	st, err := List(d, groups, "g.*", tenantID, q.Filter, q.Sort, q.After, nil, q.StartIndex, q.Count)
	if err != nil {
		return ListStatements{}, err
	}
	order, err := OrderBy(d, groups, q.Sort)
	if err != nil {
		return ListStatements{}, err
	}
	st.Page = "WITH p AS (" + st.Page + ") SELECT g.total, g.sort_key, " + GroupColumns + ", " + MemberColumns +
		" FROM p g " + MemberJoin + " ORDER BY " + order + ", m.member_id"
	return st, nil
}
