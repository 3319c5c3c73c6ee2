package scim

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/schemas"
)

// Render returns the renderer of full change events: the user or group at
// a SCIM path (/Users/<id>, /Groups/<id>) of the tenant as GET returns it
// with every attribute (groups and members included), base being the
// external base URL. A SET goes to no provisioning connection, so it
// carries no connection's externalId; a password is never returned.
func Render(svc *directory.Service, base string) events.Renderer {
	base = strings.TrimSuffix(base, "/")
	return func(ctx context.Context, tenantID, uri string) (json.RawMessage, error) {
		typ, id, _ := strings.Cut(strings.TrimPrefix(uri, "/"), "/")
		var res map[string]any
		switch typ {
		case "Users":
			u, groups, err := svc.UserWithGroups(ctx, tenantID, id)
			if err != nil {
				return nil, renderErr(err)
			}
			res = userAttributes(&u, base, "")
			if len(groups) > 0 {
				res["groups"] = groupsValue(base, groups)
			}
			res["id"], res["meta"] = u.ID, userMeta(&u, base)
			res["schemas"] = []string{schemas.UserURN, schemas.EnterpriseUserURN, schemas.PlatformUserURN, schemas.CustomUserURN}
		case "Groups":
			g, err := svc.Group(ctx, tenantID, id, true)
			if err != nil {
				return nil, renderErr(err)
			}
			res = groupAttributes(&g, base, "")
			res["id"], res["meta"] = g.ID, groupMeta(&g, base)
			res["schemas"] = []string{schemas.GroupURN}
		default:
			return nil, events.ErrNotFound
		}
		return json.Marshal(res)
	}
}

// renderErr is events.ErrNotFound for a resource that no longer exists.
func renderErr(err error) error {
	if directory.KindOf(err) == directory.KindNotFound {
		return events.ErrNotFound
	}
	return err
}
