package scim

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/schemas"
)

// userSchemas is what a tenant's custom attribute definitions make of the
// User resource type: the schemas that check bodies, PATCH paths and
// projections (rs) and the catalog of filters and sorts.
type userSchemas struct {
	rs      *resourceSchema
	catalog *query.Catalog
}

// plainUsers are the user schemas of a tenant without custom attributes.
var plainUsers = &userSchemas{rs: userSchema, catalog: query.Users}

// maxCachedSchemas bounds the cache of user schemas by definitions: beyond
// it the cache starts afresh.
const maxCachedSchemas = 1024

// tenantSchemas holds the user schemas of the definitions seen, for every
// handler and ParseUser.
var tenantSchemas schemaCache

// schemaCache holds the user schemas of each set of definitions seen, by
// their JSON.
type schemaCache struct {
	mu   sync.Mutex
	sets map[string]*userSchemas
}

// of returns the user schemas of defs, built once per set of definitions.
func (c *schemaCache) of(defs []directory.AttributeDef) *userSchemas {
	if len(defs) == 0 {
		return plainUsers
	}
	b, err := json.Marshal(defs)
	if err != nil { // definitions are plain data: never
		return newUserSchemas(defs)
	}
	key := string(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if us, ok := c.sets[key]; ok {
		return us
	}
	if c.sets == nil || len(c.sets) >= maxCachedSchemas {
		c.sets = map[string]*userSchemas{}
	}
	us := newUserSchemas(defs)
	c.sets[key] = us
	return us
}

func newUserSchemas(defs []directory.AttributeDef) *userSchemas {
	custom := directory.CustomSchema(defs)
	return &userSchemas{
		rs:      newResourceSchema(schemas.User(), schemas.EnterpriseUser(), schemas.PlatformUser(), custom),
		catalog: query.UserCatalog(custom),
	}
}

// usersOf returns the user schemas of the request's tenant, once per
// request: those of the tenant as authenticated, which every replica
// caches until the tenant changes (directory.Service.Tenant). A write
// whose check they may have failed is checked again with the definitions
// as stored now (withUserSchemas).
func (h *handler) usersOf(r *http.Request) *userSchemas {
	ex := stateOf(r.Context())
	if ex.users == nil {
		ex.users = tenantSchemas.of(ex.Principal.Tenant.Attributes)
	}
	return ex.users
}

// withUserSchemas runs write, a write of a user that checks the request
// with the user schemas it is given and fails with nothing written, with
// the request's (usersOf). When it fails, and the tenant's definitions as
// stored now make other schemas (an attribute another replica defined a
// moment ago, which this replica's cached tenant does not have yet), it
// runs again with those (refreshUsers).
func (h *handler) withUserSchemas(r *http.Request, write func(us *userSchemas) error) error {
	err := write(h.usersOf(r))
	if err != nil && h.refreshUsers(r) {
		err = write(h.usersOf(r))
	}
	return err
}

// refreshUsers reads the tenant's definitions as stored now, at most once
// per request, and reports whether they make other user schemas than the
// request's: then the rest of the request uses them.
func (h *handler) refreshUsers(r *http.Request) bool {
	ex := stateOf(r.Context())
	if ex.usersFresh {
		return false
	}
	ex.usersFresh = true
	defs, err := h.svc.TenantAttributes(r.Context(), ex.Principal.Tenant.ID)
	if err != nil {
		return false
	}
	if us := tenantSchemas.of(defs); us != h.usersOf(r) {
		ex.users = us
		return true
	}
	return false
}

// userSchemaOf is usersOf's resource schema, for middleware that takes a
// schema per request.
func (h *handler) userSchemaOf(r *http.Request) *resourceSchema { return h.usersOf(r).rs }

// groupSchemaOf returns the Group schema, which no tenant changes.
func (h *handler) groupSchemaOf(*http.Request) *resourceSchema { return h.groups }
