// Package events turns scimd's audit log into change events: Security
// Event Tokens (RFC 8417) of the SCIM profile (RFC 9967), delivered to
// event streams by push (RFC 8935) or poll (RFC 8936).
//
// The audit log is the durable source: every change writes its audit event
// in its own transaction, and a stream's cursor is the sequence number of
// the last audit event of its tenant that it delivered, so no event is lost
// when a delivery fails or a process stops, and a stream delivers its
// tenant's changes in audit order.
//
// The package imports no HTTP and no SQL: the surfaces (package eventapi,
// cmd/scimd) send and serve, the backends (store/sqlite, store/postgres)
// implement Store.
package events

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/audit"
)

// Delivery is how a stream's events reach its receiver.
type Delivery string

// Deliveries.
const (
	Push Delivery = "push" // scimd POSTs each SET to the stream's URL (RFC 8935)
	Poll Delivery = "poll" // the receiver polls with its token (RFC 8936)
)

// State is whether a stream delivers.
type State string

// States.
const (
	Active   State = "active"   // delivering
	Disabled State = "disabled" // stopped by an operator; resumes from its cursor when enabled
	Failing  State = "failing"  // push failed for MaxRetryPeriod; resumes from its cursor when enabled
)

// Stream is an event stream (a subscription) of one tenant.
type Stream struct {
	ID       string
	TenantID string
	Delivery Delivery
	// URL is the receiver's endpoint of a push stream.
	URL string
	// TokenID is the token that polls a poll stream (one stream per token).
	TokenID string
	// Full streams carry the resource as a SCIM GET returns it (the
	// :full events); others only ids and changed attribute names
	// (:notice, the default).
	Full bool
	// Audience is the SETs' aud claim.
	Audience  string
	State     State
	CreatedAt time.Time
	// Cursor is the sequence number of the tenant's last audit event the
	// stream is done with: delivered (push), acknowledged (poll, with every
	// one before it), or not an event of the feed.
	Cursor int64
	// Attempts counts the failed pushes of the event after Cursor; the
	// next is due at NextAttemptAt. FailingSince is the first of them.
	Attempts      int
	NextAttemptAt time.Time
	FailingSince  *time.Time
	LastDelivery  *time.Time
	LastError     string
}

// StreamChange is a change of a stream's state or cursor. Nil fields stay.
type StreamChange struct {
	State  *State
	Cursor *int64
}

// SigningKey is a key that signs SETs. Private is the private JWK (JSON)
// sealed with the secret key; Public the public JWK (JSON).
type SigningKey struct {
	ID        string // the kid
	Private   string
	Public    string
	CreatedAt time.Time
	// RetiresAt is when a replaced key stops being published; nil for the
	// current key.
	RetiresAt *time.Time
}

// Backlog is a stream's distance from its tenant's audit head.
type Backlog struct {
	StreamID string
	State    State
	Events   int64
}

// ErrNotFound is the answer of Store methods for a stream of another tenant
// or none.
var ErrNotFound = errors.New("event stream not found")

// ErrClaimLost is AdvanceStream's answer when claim no longer holds the
// stream (an operator changed it, or the claim expired): the caller stops
// pushing it.
var ErrClaimLost = errors.New("the claim of the event stream is lost")

// ErrPollStreamExists is CreateStream's answer when the token already
// polls a stream.
var ErrPollStreamExists = errors.New("the token already polls an event stream")

// Store persists event streams and signing keys, and reads the audit log.
// Every stream query is scoped by tenant. Implementations: store/sqlite
// and store/postgres, checked by store/storetest.
type Store interface {
	// CreateStream inserts s and records ev, in one transaction. Returns
	// ErrPollStreamExists for a second poll stream of one token.
	CreateStream(ctx context.Context, s Stream, ev audit.Event) error
	// Stream returns the tenant's stream with this id, or ErrNotFound.
	Stream(ctx context.Context, tenantID, id string) (Stream, error)
	// Streams returns the tenant's streams, oldest first.
	Streams(ctx context.Context, tenantID string) ([]Stream, error)
	// PollStream returns the tenant's poll stream of the token, or
	// ErrNotFound.
	PollStream(ctx context.Context, tenantID, tokenID string) (Stream, error)
	// ChangeStream applies ch to the tenant's stream and records ev, in
	// one transaction, and returns the stream. A new state Active also
	// clears the failed attempts (delivery resumes now); a new cursor
	// forgets the acknowledgements; any claim of the stream ends. Returns
	// ErrNotFound.
	ChangeStream(ctx context.Context, tenantID, id string, ch StreamChange, ev audit.Event) (Stream, error)
	// DeleteStream deletes the tenant's stream and records ev. Returns
	// ErrNotFound.
	DeleteStream(ctx context.Context, tenantID, id string, ev audit.Event) error

	// WatchSealed calls sealed with a tenant's id after audit events of
	// the tenant were sealed (in this process at least; on PostgreSQL in
	// any), until ctx ends; it returns nil then, or an error when it
	// cannot watch. sealed must not block.
	WatchSealed(ctx context.Context, sealed func(tenantID string)) error
	// AuditHead returns the end of the tenant's sealed audit chain.
	AuditHead(ctx context.Context, tenantID string) (audit.Head, error)
	// FeedEvents returns up to limit of the tenant's sealed audit events
	// after afterSeq, in sequence order.
	FeedEvents(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]audit.Event, error)
	// Acks returns the acknowledged sequence numbers of the stream above
	// its cursor, ascending.
	Acks(ctx context.Context, streamID string) ([]int64, error)
	// AddAcks records acknowledged sequence numbers of the tenant's stream
	// (those at or below its cursor are dropped).
	AddAcks(ctx context.Context, tenantID, streamID string, seqs []int64) error
	// AdvanceStream moves the stream's cursor to seq if it is below, if
	// claim still holds the stream (any holder when claim is ""), clears
	// its failed attempts, forgets acknowledgements up to seq, and, when
	// delivered, records at as the last delivery. Returns ErrClaimLost
	// when claim is set and no longer holds the stream.
	AdvanceStream(ctx context.Context, tenantID, id, claim string, seq int64, at time.Time, delivered bool) error
	// ClaimStreams claims up to limit active push streams whose next
	// attempt is due at now, that no live claim holds and whose tenant has
	// sealed audit events after their cursor, for claim until until. Two
	// callers never get the same stream while a claim lasts.
	ClaimStreams(ctx context.Context, claim string, now, until time.Time, limit int) ([]Stream, error)
	// StreamFailed records a failed push, if claim holds the stream: the
	// attempts count up, the next is due at next, the error is kept, the
	// first failure is remembered, and, when failing, the stream's state
	// becomes Failing.
	StreamFailed(ctx context.Context, id, claim, reason string, at, next time.Time, failing bool) error
	// ReleaseStream ends claim's hold of the stream.
	ReleaseStream(ctx context.Context, id, claim string) error

	// Backlogs returns, for every stream of every tenant, its state and the
	// number of its tenant's sealed audit events after its cursor, for the
	// operator's metrics.
	Backlogs(ctx context.Context) ([]Backlog, error)

	// SigningKeys returns every signing key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k as the current key. With a rotation, the
	// current keys retire at retire, and the rotation event is recorded
	// in every tenant that has an event stream (its TenantID is
	// ignored), in the same transaction; without, k is stored only when
	// there is no current key (of two processes creating the first key,
	// the first one's wins). Keys retired before deleteBefore are
	// deleted.
	AddSigningKey(ctx context.Context, k SigningKey, rotation *audit.Event, retire, deleteBefore time.Time) error
}
