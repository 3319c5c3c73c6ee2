package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/audit"
)

// The event URIs of RFC 9967 §2.4 that scimd issues. Create, put and patch
// end in ":notice" or ":full" by the stream's mode.
const (
	URIPrefix     = "urn:ietf:params:scim:event:prov:"
	URICreate     = URIPrefix + "create:"
	URIPatch      = URIPrefix + "patch:"
	URIPut        = URIPrefix + "put:"
	URIDelete     = URIPrefix + "delete"
	URIActivate   = URIPrefix + "activate"
	URIDeactivate = URIPrefix + "deactivate"
)

// URIs returns the event URIs scimd issues, as the ServiceProviderConfig
// advertises them (RFC 9967 §4, securityEvents.eventUris): the full
// events only when full streams are available.
func URIs(full bool) []string {
	modes := []string{"notice"}
	if full {
		modes = append(modes, "full")
	}
	var uris []string
	for _, u := range []string{URICreate, URIPut, URIPatch} {
		for _, m := range modes {
			uris = append(uris, u+m)
		}
	}
	return append(uris, URIDelete, URIActivate, URIDeactivate)
}

// kind is what an audit event is in the feed.
type kind struct {
	uri    string // URICreate, URIPatch (URIPut for a PUT; mode appended) or a complete URI
	moded  bool   // the URI takes ":notice" or ":full"
	always []string
}

// kinds maps the audit event types of Users and Groups to their RFC 9967
// events; other types (tokens, tenants, links) are not in the feed. A
// modification is a put event when the audit event records a SCIM PUT
// (audit.MethodPut), else a patch event; group membership changes are
// patch (or put) events of the group.
var kinds = map[string]kind{
	audit.UserCreated:         {uri: URICreate, moded: true},
	audit.UserInvited:         {uri: URICreate, moded: true},
	audit.UserUpdated:         {uri: URIPatch, moded: true},
	audit.UserPasswordChanged: {uri: URIPatch, moded: true, always: []string{"password"}},
	audit.UserMFAEnrolled:     {uri: URIPatch, moded: true},
	audit.UserDeactivated:     {uri: URIDeactivate},
	audit.UserReactivated:     {uri: URIActivate},
	audit.UserDeleted:         {uri: URIDelete},
	audit.GroupCreated:        {uri: URICreate, moded: true},
	audit.GroupUpdated:        {uri: URIPatch, moded: true},
	audit.GroupMembersAdded:   {uri: URIPatch, moded: true, always: []string{"members"}},
	audit.GroupMembersRemoved: {uri: URIPatch, moded: true, always: []string{"members"}},
	audit.GroupDeleted:        {uri: URIDelete},
}

// InFeed reports whether the audit event e becomes a SET.
func InFeed(e audit.Event) bool {
	_, ok := kinds[e.Type]
	return ok && (e.Target.Type == "user" || e.Target.Type == "group") && e.Target.ID != ""
}

// EventURI returns the RFC 9967 event URI of e for a stream of the mode
// full, or "" when e is not in the feed.
func EventURI(e audit.Event, full bool) string {
	k, ok := kinds[e.Type]
	if !ok || !InFeed(e) {
		return ""
	}
	if !k.moded {
		return k.uri
	}
	uri := k.uri
	if uri == URIPatch && e.Method == audit.MethodPut {
		uri = URIPut
	}
	if full {
		return uri + "full"
	}
	return uri + "notice"
}

// ResourceURI returns the sub_id uri of e's target: its path relative to
// the SCIM base URL (RFC 9967 §2.1), such as /Users/<id>.
func ResourceURI(e audit.Event) string {
	if e.Target.Type == "group" {
		return "/Groups/" + e.Target.ID
	}
	return "/Users/" + e.Target.ID
}

// JTI returns the SET id of the stream's SET of the audit event seq:
// unique per SET (RFC 8417 §2.2) and the same on every retry.
func JTI(streamID string, seq int64) string {
	return streamID + "." + strconv.FormatInt(seq, 10)
}

// parseJTI returns the sequence number of jti if it is one of the stream's.
func parseJTI(streamID, jti string) (int64, bool) {
	rest, ok := strings.CutPrefix(jti, streamID+".")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(rest, 10, 64)
	return seq, err == nil && seq > 0
}

// TXN returns the txn claim of the audit event: the tenant and the event's
// sequence number, the same in every stream's SET of it.
func TXN(e audit.Event) string {
	return e.TenantID + "." + strconv.FormatInt(e.Seq, 10)
}

// SubjectID is the sub_id claim of a SCIM event (RFC 9967 §2.1, RFC 9493).
type SubjectID struct {
	Format string `json:"format"` // "scim"
	URI    string `json:"uri"`
}

// Claims are the claims of a SET.
type Claims struct {
	Issuer   string                    `json:"iss"`
	IssuedAt int64                     `json:"iat"`
	ID       string                    `json:"jti"`
	Audience string                    `json:"aud"`
	TXN      string                    `json:"txn"`
	Subject  SubjectID                 `json:"sub_id"`
	Events   map[string]map[string]any `json:"events"`
}

// Build returns the claims of the stream's SET of the sealed audit event e,
// issued by iss, and false when e is not in the feed. data is the resource
// as a SCIM GET returns it, for a full stream's create, put and patch events
// (nil otherwise). Notice payloads name the changed attributes, never
// their values.
func Build(iss string, s Stream, e audit.Event, data json.RawMessage) (Claims, bool, error) {
	uri := EventURI(e, s.Full)
	if uri == "" {
		return Claims{}, false, nil
	}
	payload := map[string]any{}
	if kinds[e.Type].moded {
		if s.Full {
			if data == nil {
				return Claims{}, false, fmt.Errorf("build the SET of audit event %d: a full stream needs the resource", e.Seq)
			}
			payload["data"] = data
		} else {
			names, err := changedAttributes(e)
			if err != nil {
				return Claims{}, false, err
			}
			payload["attributes"] = names
		}
	}
	return Claims{
		Issuer:   iss,
		IssuedAt: e.Time.Unix(),
		ID:       JTI(s.ID, e.Seq),
		Audience: s.Audience,
		TXN:      TXN(e),
		Subject:  SubjectID{Format: "scim", URI: ResourceURI(e)},
		Events:   map[string]map[string]any{uri: payload},
	}, true, nil
}

// The extension schemas whose attributes the audit log names bare.
const (
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	platformURN   = "urn:ietf:params:scim:schemas:extension:platform:2.0:User"
)

// scimPaths maps the audit log's attribute names that are not SCIM paths
// to the SCIM paths (RFC 7644 §3.5.2) of the attributes they record.
var scimPaths = map[string]string{
	"email":              "emails",
	"enterprise":         enterpriseURN,
	"emailVerified":      platformURN + ":emailVerified",
	"passwordMustReset":  platformURN + ":passwordMustReset",
	"forceMfaEnrollment": platformURN + ":forceMfaEnrollment",
	"status":             platformURN + ":status",
	"mfaEnrolled":        platformURN + ":mfaEnrolled",
}

// changedAttributes returns the SCIM paths of e's changed attributes,
// without duplicates, and those its type always changes.
func changedAttributes(e audit.Event) ([]string, error) {
	var changes []audit.Change
	if len(e.Changes) > 0 {
		if err := json.Unmarshal(e.Changes, &changes); err != nil {
			return nil, fmt.Errorf("read the changes of audit event %d: %w", e.Seq, err)
		}
	}
	names := []string{}
	seen := map[string]bool{}
	add := func(n string) {
		if p, ok := scimPaths[n]; ok {
			n = p
		}
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, n := range kinds[e.Type].always {
		add(n)
	}
	for _, c := range changes {
		add(c.Attribute)
	}
	return names, nil
}
