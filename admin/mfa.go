package admin

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/exchange"
)

// mfaView is the body of GET /users/{id}/mfa: the user's factors and the
// enrolment an administrator issued, waiting for the user's code.
type mfaView struct {
	Factors []factorView   `json:"factors"`
	Pending *enrolmentView `json:"pendingEnrolment"`
}

type factorView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"createdAt"`
}

type enrolmentView struct {
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// getMFA serves GET /users/{id}/mfa.
func (a *api) getMFA(w http.ResponseWriter, r *http.Request) {
	st, err := a.svc.MFA(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v := mfaView{Factors: []factorView{}}
	for _, f := range st.Factors {
		v.Factors = append(v.Factors, factorView{ID: f.ID, Kind: f.Kind, CreatedAt: f.CreatedAt})
	}
	if e := st.Pending; e != nil {
		v.Pending = &enrolmentView{CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt}
	}
	writeJSON(w, http.StatusOK, v)
}

// issueEnrolment serves POST /users/{id}/mfa/enrolment: a new TOTP key
// for a user without a factor, answered once (never stored in clear), that
// the user confirms with a code at their next sign-in; audited as
// user.mfa_enrolment_issued. 409 when the user has a factor.
func (a *api) issueEnrolment(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	key, err := a.svc.IssueMFAEnrolment(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauthUri"`
	}{key.Secret(), key.URL()})
}

// markFactorLost serves DELETE /users/{id}/mfa/factors/{factor}: the
// factor is removed (a lost phone) and the user is no longer MFA enrolled;
// audited as user.updated.
func (a *api) markFactorLost(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.MarkFactorLost(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"), chi.URLParam(r, "factor")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
