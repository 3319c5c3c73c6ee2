// Package scim is the HTTP surface of scimd: the SCIM 2.0 endpoint
// (RFC 7643, RFC 7644) under /scim/v2, plus /healthz and /readyz.
//
// It authenticates bearer tokens, puts the tenant, token and audit caller in
// the request context, reads and checks SCIM request bodies strictly,
// translates SCIM resources to and from the domain (internal/directory) and
// domain errors to SCIM error responses. Every platform rule (email format
// and uniqueness, password policy, name splitting, flags, audit) is the
// domain Service's; this package only translates.
//
// The protocol shell is github.com/elimity-com/scim, mounted behind chi.
// What the library gets wrong or lacks is built around it here: the user
// list and its filters, /ServiceProviderConfig, strict JSON, ETags and
// preconditions, PATCH application, and statuses the library cannot emit
// (see libraryWriter).
//
// The package must not import a store, database/sql or any SQL driver: data
// is reached only through directory.Service.
package scim
