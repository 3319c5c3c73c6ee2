// Package audit defines the audit event of scimd and its per-tenant hash
// chain: how an event is hashed, how a chain is sealed and how it is verified.
//
// Events are written by the store in the same transaction as the change they
// record. They are sealed (given their per-tenant sequence number and chain
// hash) shortly after commit, in commit order, so that writers of one tenant
// never queue behind each other for the chain head. Once sealed, any edit,
// insertion or deletion breaks the chain and Verify names the first bad event.
//
// The package imports no HTTP and no SQL.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"time"
)

// Event types recorded by scimd (SPEC §5).
const (
	UserCreated         = "user.created"
	UserInvited         = "user.invited"
	UserUpdated         = "user.updated"
	UserDeactivated     = "user.deactivated"
	UserReactivated     = "user.reactivated"
	UserPasswordChanged = "user.password_changed"
	UserDeleted         = "user.deleted"
	UserMFAEnrolled     = "user.mfa_enrolled"
	// UserMFAEnrolmentIssued records a TOTP key an administrator generated
	// for a user, to confirm at their next sign-in.
	UserMFAEnrolmentIssued = "user.mfa_enrolment_issued"
	GroupCreated           = "group.created"
	GroupUpdated           = "group.updated"
	GroupDeleted           = "group.deleted"
	GroupMembersAdded      = "group.members_added"
	GroupMembersRemoved    = "group.members_removed"
	TokenCreated           = "token.created"
	TokenRevoked           = "token.revoked"
	TokenUpdated           = "token.updated"
	TenantCreated          = "tenant.created"
	TenantPolicyUpdated    = "tenant.policy_updated"
	// TenantSettingsUpdated records a change of the tenant's other
	// settings (the invitation expiry).
	TenantSettingsUpdated = "tenant.settings_updated"
	// TenantAttributeDefined and TenantAttributeRemoved record a change
	// of the tenant's custom attribute definitions.
	TenantAttributeDefined = "tenant.attribute_defined"
	TenantAttributeRemoved = "tenant.attribute_removed"
	// RoleDefined and RoleRemoved record a change of the tenant's role
	// catalogue.
	RoleDefined = "role.defined"
	RoleRemoved = "role.removed"
	// UserInvitationResent records a new invitation link (the earlier
	// ones revoked); UserResetLinkIssued a reset link.
	UserInvitationResent = "user.invitation_resent"
	UserResetLinkIssued  = "user.reset_link_issued"
	// Sign-in (/auth/v1): a user signed in, a refusal (its reason kept in
	// the changes, never shown to the client), a verified email, an
	// account locked after too many failures and unlocked.
	UserSignedIn      = "user.signed_in"
	UserSignInFailed  = "user.sign_in_failed"
	UserEmailVerified = "user.email_verified"
	UserLocked        = "user.locked"
	UserUnlocked      = "user.unlocked"
	// EventStreamCreated, EventStreamUpdated (state or cursor) and
	// EventStreamRemoved record changes of the tenant's change-event
	// streams (package events).
	EventStreamCreated = "event_stream.created"
	EventStreamUpdated = "event_stream.updated"
	EventStreamRemoved = "event_stream.removed"
	// EventSigningKeyRotated records a new key signing change events
	// (the keys serve every tenant: recorded in each that has a stream).
	EventSigningKeyRotated = "event_signing_key.rotated"
)

// Types lists every event type, in the order of SPEC §5.
var Types = []string{
	UserCreated, UserInvited, UserUpdated, UserDeactivated, UserReactivated, UserPasswordChanged, UserDeleted,
	GroupCreated, GroupUpdated, GroupDeleted, GroupMembersAdded, GroupMembersRemoved, UserMFAEnrolled,
	TokenCreated, TokenRevoked, TokenUpdated, TenantCreated, TenantPolicyUpdated,
	TenantAttributeDefined, TenantAttributeRemoved, RoleDefined, RoleRemoved, UserInvitationResent, UserResetLinkIssued, TenantSettingsUpdated,
	UserSignedIn, UserSignInFailed, UserEmailVerified, UserLocked, UserUnlocked, UserMFAEnrolmentIssued,
	EventStreamCreated, EventStreamUpdated, EventStreamRemoved, EventSigningKeyRotated,
}

// Methods of a change to a user or group (Event.Method): a SCIM PUT
// replaces the resource, a SCIM PATCH (and every other edit, such as the
// console's) modifies it. Other events record no method.
const (
	MethodPut   = "PUT"
	MethodPatch = "PATCH"
)

// Actor kinds.
const (
	ActorToken    = "token"    // a bearer token; Name is the token's name
	ActorOperator = "operator" // a person at the command line
	ActorSystem   = "system"   // scimd itself, e.g. the first-start bootstrap
	ActorUser     = "user"     // the user, through an invitation or reset link
)

// Actor is who made a change.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Target is what a change was made to.
type Target struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Display string `json:"display,omitempty"`
}

// Change is one changed attribute. Old and New are omitted for secrets
// (a password change records the attribute name only).
type Change struct {
	Attribute string `json:"attribute"`
	Old       any    `json:"old,omitempty"`
	New       any    `json:"new,omitempty"`
}

// Event is one audit record. Seq, PrevHash and Hash are zero until the event
// is sealed.
type Event struct {
	TenantID  string          `json:"tenantId"`
	Seq       int64           `json:"seq"`
	Time      time.Time       `json:"time"`
	Type      string          `json:"type"`
	Actor     Actor           `json:"actor"`
	Target    Target          `json:"target"`
	RequestID string          `json:"requestId,omitempty"`
	Source    string          `json:"source,omitempty"`
	Changes   json.RawMessage `json:"changes,omitempty"` // a JSON array of Change, hashed as stored
	// Method is how a user or group was changed (MethodPut, MethodPatch),
	// "" for events that record no method (and those written before it
	// was recorded).
	Method   string `json:"method,omitempty"`
	PrevHash string `json:"prevHash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// EncodeChanges returns the stored form of changes: a JSON array.
func EncodeChanges(changes []Change) (json.RawMessage, error) {
	if len(changes) == 0 {
		return json.RawMessage("[]"), nil
	}
	b, err := json.Marshal(changes)
	if err != nil {
		return nil, fmt.Errorf("encode audit changes: %w", err)
	}
	return b, nil
}

// ComputeHash returns the chain hash of e given the hash of the event before
// it: SHA-256 over a length-prefixed encoding of every recorded field, so no
// two different events encode alike. e.Changes is hashed byte for byte as
// stored. e.Method is hashed only when set, so that the hashes of events
// written before it was recorded still hold.
func ComputeHash(prevHash string, e Event) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	writeInt(h, e.Seq)
	field(prevHash)
	field(e.TenantID)
	field(e.Time.UTC().Format(time.RFC3339Nano))
	field(e.Type)
	field(e.Actor.Kind)
	field(e.Actor.ID)
	field(e.Actor.Name)
	field(e.Target.Type)
	field(e.Target.ID)
	field(e.Target.Display)
	field(e.RequestID)
	field(e.Source)
	field(string(e.Changes))
	if e.Method != "" {
		field(e.Method)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeInt(h hash.Hash, v int64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	h.Write(n[:])
}

// Head is the end of a tenant's audit chain as the store records it: the
// sequence number and hash of its last sealed event, 0 and "" before the
// first.
type Head struct {
	Seq  int64
	Hash string
}

// BrokenChainError names the first event whose chain link does not hold.
type BrokenChainError struct {
	Seq    int64
	Reason string
}

// Error names the event and the reason.
func (e *BrokenChainError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// Verify checks a tenant's sealed events, in sequence order from the first.
// It returns a *BrokenChainError for the first event that was edited, that
// follows a deleted or inserted event, or whose sequence number is out of
// order.
func Verify(events []Event) error {
	prev := ""
	for i, e := range events {
		want := int64(i + 1)
		if e.Seq != want {
			return &BrokenChainError{Seq: e.Seq, Reason: fmt.Sprintf("expected sequence number %d", want)}
		}
		if e.PrevHash != prev {
			return &BrokenChainError{Seq: e.Seq, Reason: "previous-hash link does not match the event before it"}
		}
		if got := ComputeHash(prev, e); got != e.Hash {
			return &BrokenChainError{Seq: e.Seq, Reason: "content does not match its hash"}
		}
		prev = e.Hash
	}
	return nil
}

// VerifyHead checks that events, a tenant's sealed events as Verify takes
// them, reach the chain head recorded before they were read: the newest
// events cannot be deleted, or the chain cut short and re-sealed, without
// the head telling. Events sealed after the head was read may follow it.
func VerifyHead(events []Event, head Head) error {
	if head.Seq > int64(len(events)) {
		return &BrokenChainError{Seq: int64(len(events)) + 1, Reason: fmt.Sprintf("missing: the chain head records %d sealed events", head.Seq)}
	}
	if head.Seq == 0 {
		return nil
	}
	if e := events[head.Seq-1]; e.Hash != head.Hash {
		return &BrokenChainError{Seq: e.Seq, Reason: "hash does not match the recorded chain head"}
	}
	return nil
}

// MembersEvent returns the group.members_added or group.members_removed
// event (typ) of group for the member ids, with base's time, actor, request
// id and source: stores derive it from the event of the change that moved
// the members, once they know which members actually moved. The ids are
// recorded as the new (added) or old (removed) value of "members".
func MembersEvent(base Event, typ string, group Target, ids []string) (Event, error) {
	c := Change{Attribute: "members"}
	if typ == GroupMembersRemoved {
		c.Old = ids
	} else {
		c.New = ids
	}
	changes, err := EncodeChanges([]Change{c})
	if err != nil {
		return Event{}, err
	}
	e := base
	e.Type, e.Target, e.Changes = typ, group, changes
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	return e, nil
}
