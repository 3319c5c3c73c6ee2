package directory

import (
	"maps"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/audit"
)

// ExternalIDs are the externalIds of one user or group, by provisioning
// connection. RFC 7643 §3.1 makes externalId the provisioning client's own
// identifier for a resource, so an IdP and an HR system feeding one tenant
// each keep theirs and see only theirs. The key is the connection's token
// id (Caller.Connection); "" is the operators' (command line).
type ExternalIDs map[string]string

// Of returns the externalId connection gave the resource, "" if none.
func (ids ExternalIDs) Of(connection string) string { return ids[connection] }

// With returns a copy of ids in which connection's externalId is id; an
// empty id removes it. The result is nil when no externalId is left.
func (ids ExternalIDs) With(connection, id string) ExternalIDs {
	out := maps.Clone(ids)
	if id == "" {
		delete(out, connection)
	} else {
		if out == nil {
			out = ExternalIDs{}
		}
		out[connection] = id
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkExternalID trims an externalId and checks it: at most
// MaxValueLength bytes, no control characters.
func checkExternalID(id string) (string, error) {
	id = strings.TrimSpace(id)
	switch {
	case len(id) > MaxValueLength:
		return "", Errorf(KindInvalidValue, "externalId", "externalId is longer than %d bytes", MaxValueLength)
	case HasControl(id):
		return "", Errorf(KindInvalidValue, "externalId", "externalId contains a control character")
	}
	return id, nil
}

// externalIDChanges returns one "externalId" change per connection whose
// externalId differs between a and b (a write changes its caller's only),
// in connection order.
func externalIDChanges(a, b ExternalIDs) []audit.Change {
	var out []audit.Change
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // the union of both, in order
	for _, k := range keys {
		if a[k] != b[k] {
			out = append(out, audit.Change{Attribute: "externalId", Old: emptyToNil(a[k]), New: emptyToNil(b[k])})
		}
	}
	return out
}
