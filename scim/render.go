package scim

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
)

// Render returns the renderer of full change events: the user or group at
// a SCIM path (/Users/<id>, /Groups/<id>) of the tenant as GET returns it
// with every attribute (groups and members included), written by the same
// encoder, base being the external base URL. A SET goes to no provisioning connection, so it
// carries no connection's externalId; a password is never returned.
func Render(svc *directory.Service, base string) events.Renderer {
	base = strings.TrimSuffix(base, "/")
	return func(ctx context.Context, tenantID, uri string) (json.RawMessage, error) {
		typ, id, _ := strings.Cut(strings.TrimPrefix(uri, "/"), "/")
		switch typ {
		case "Users":
			u, groups, err := svc.UserWithGroups(ctx, tenantID, id)
			if err != nil {
				return nil, renderErr(err)
			}
			return appendUser(nil, &u, groups, base, "")
		case "Groups":
			g, err := svc.Group(ctx, tenantID, id, true)
			if err != nil {
				return nil, renderErr(err)
			}
			return appendGroup(nil, &g, base, ""), nil
		}
		return nil, events.ErrNotFound
	}
}

// renderErr is events.ErrNotFound for a resource that no longer exists.
func renderErr(err error) error {
	if directory.KindOf(err) == directory.KindNotFound {
		return events.ErrNotFound
	}
	return err
}
