package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"

	"github.com/scimd/scimd/internal/audit"
)

// MFAEnrolmentTTL is how long an enrolment an administrator issued waits
// for the user's first code.
const MFAEnrolmentTTL = 7 * 24 * time.Hour

// MFAEnrolment is a TOTP key an administrator generated for a user: the
// user confirms it with a code at their next sign-in (/auth/v1), which
// makes it the user's factor. The key is stored sealed with the secret
// key, under ID (the factor's id once confirmed).
type MFAEnrolment struct {
	ID        string
	TenantID  string
	UserID    string
	Secret    string // the TOTP key (base32), sealed
	CreatedAt time.Time
	ExpiresAt time.Time
}

// FactorInfo describes an MFA factor without its secret.
type FactorInfo struct {
	ID        string
	Kind      string // totp
	CreatedAt time.Time
}

// MFAState is what the console shows of a user's MFA: the factors and an
// enrolment waiting for the user's code (nil: none).
type MFAState struct {
	Factors []FactorInfo
	Pending *MFAEnrolment // its Secret cleared
}

// MFA returns the user's factors and pending enrolment (one expired, or
// left behind when the user enrolled another way, is not shown), or
// KindNotFound.
func (s *Service) MFA(ctx context.Context, tenantID, userID string) (MFAState, error) {
	const op = "directory.MFA"
	if _, err := s.User(ctx, tenantID, userID); err != nil {
		return MFAState{}, err
	}
	fs, err := s.store.Factors(ctx, tenantID, userID)
	if err != nil {
		return MFAState{}, wrap(op, err)
	}
	var st MFAState
	for _, f := range fs {
		st.Factors = append(st.Factors, FactorInfo{ID: f.ID, Kind: f.Kind, CreatedAt: f.CreatedAt})
	}
	e, err := s.store.MFAEnrolment(ctx, tenantID, userID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return MFAState{}, wrap(op, err)
	case len(st.Factors) == 0 && s.now().Before(e.ExpiresAt): // an enrolment left when the user enrolled by itself is moot
		e.Secret = ""
		st.Pending = &e
	}
	return st, nil
}

// IssueMFAEnrolment generates a TOTP key for a user who has no factor
// (an enrolment made earlier and not confirmed is replaced), stores it
// sealed for MFAEnrolmentTTL and records user.mfa_enrolment_issued. The
// key is returned to be shown once (QR code and text) and handed to the
// user, who confirms it with a code at their next sign-in. KindConflict
// when the user has a factor; KindNotFound.
func (s *Service) IssueMFAEnrolment(ctx context.Context, c Caller, tenantID, userID string) (*otp.Key, error) {
	const op = "directory.IssueMFAEnrolment"
	if s.box == nil {
		return nil, ErrNoSecretKey
	}
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	if u.MFAEnrolled {
		return nil, &Error{Kind: KindConflict, Op: op, Field: "mfa",
			Detail: "the user has an MFA factor already: mark it as lost first to enrol a new one"}
	}
	key, err := NewTOTPKey(t.Name, u.UserName)
	if err != nil {
		return nil, wrap(op, err)
	}
	at := s.timeNow()
	e := MFAEnrolment{ID: newID(), TenantID: tenantID, UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(MFAEnrolmentTTL)}
	e.Secret = s.box.Seal(key.Secret(), e.ID)
	ev, err := s.event(c, tenantID, audit.UserMFAEnrolmentIssued, userTarget(&u), []audit.Change{{Attribute: "mfaEnrolment", New: e.ExpiresAt}}, at)
	if err != nil {
		return nil, wrap(op, err)
	}
	if err := s.store.IssueMFAEnrolment(ctx, e, ev); errors.Is(err, ErrNotFound) {
		return nil, notFound(op, userID, err)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	return key, nil
}

// MarkFactorLost removes the user's factor factorID (a lost phone): the
// user is no longer MFA enrolled and enrols again at their next sign-in
// when MFA is required or forced. Recorded as user.updated (mfaEnrolled
// true to false, and the factor). KindNotFound when the user has no such
// factor.
func (s *Service) MarkFactorLost(ctx context.Context, c Caller, tenantID, userID, factorID string) error {
	const op = "directory.MarkFactorLost"
	st, err := s.MFA(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	for _, f := range st.Factors {
		if f.ID == factorID {
			lost := fmt.Sprintf("%s factor enrolled %s", f.Kind, f.CreatedAt.UTC().Format(time.DateOnly))
			return s.clearMFA(ctx, op, c, tenantID, userID, audit.Change{Attribute: "mfaFactor", Old: lost})
		}
	}
	return &Error{Kind: KindNotFound, Op: op, Field: "factor", Detail: "the user has no such MFA factor (removed meanwhile?)"}
}
