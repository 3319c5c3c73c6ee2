// Package scim is the SCIM 2.0 endpoint of scimd (RFC 7643, RFC 7644),
// and only that: package server mounts it at /scim/v2 beside the other
// surfaces, behind the one request middleware (internal/exchange: request
// id, log line, metrics, request log, panic recovery).
//
// It authenticates bearer tokens and spends their rate limit
// (bearer.Guard, which records the tenant, token and audit caller in the
// request's exchange), reads and checks SCIM request bodies strictly
// (reqbody), translates SCIM resources to and from the domain
// (internal/directory) and domain errors to SCIM error responses, with the
// status and scimType of the one table (exchange.StatusOf). Every
// platform rule (email format and uniqueness, password policy, name
// splitting, flags, audit) is the domain Service's; this package only
// translates.
//
// Every SCIM route is served by this package's own chi handlers: Users and
// Groups CRUD, lists, .search, PATCH, Bulk, /Schemas, /ResourceTypes and
// /ServiceProviderConfig (see routes.go). Of github.com/elimity-com/scim it
// uses what fits: the schema model of package schema (schemas/ builds the
// User, Group and extension schemas with it), its validator for POST and
// PUT bodies (resourceType.validate), its Schema.ToMap for /Schemas, and
// the RFC 7644 §3.12 error body of package errors. Its server is not used:
// it answers every handler error with its own status table (a returned
// *ScimError became 500, statuses such as 304, 412 on PUT, 413, 429 and 503
// could not be written), lists every extension in "schemas", writes the
// requested count as itemsPerPage, ignores attributes and
// excludedAttributes on reads, hard-codes a false ServiceProviderConfig,
// has no Bulk, and parses every PATCH path again slowly; working around
// that took more code than serving the routes. Filters and PATCH paths are
// parsed by github.com/scim2/filter-parser through internal/query.
//
// The package must not import a store, database/sql or any SQL driver: data
// is reached only through directory.Service.
package scim
