// Package authapi is scimd's sign-in API under /auth/v1, for the
// platform's backend: JSON over HTTP for tokens with the auth scope. It
// translates requests to the sign-in flow of internal/signin and its
// answers and refusals back; the flow and its rules live there.
// docs/sign-in.md describes it.
package authapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/reqbody"
	"github.com/scimd/scimd/internal/signin"
)

// Prefix is where the API is served.
const Prefix = "/auth/v1"

// Deps is what the API needs.
type Deps struct {
	// Directory authenticates the auth tokens; required.
	Directory *directory.Service
	// SignIn runs the flow; required.
	SignIn *signin.Service
	// Logger receives internal errors; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes is the largest request body; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RateLimit, when set, limits the requests of each auth token (the
	// connection), as it limits SCIM connections; nil: no limit.
	RateLimit *ratelimit.Limiter
	// Metrics, when set, counts the requests RateLimit refuses.
	Metrics interface{ ObserveRateLimited() }
}

// DefaultMaxBodyBytes is the body limit when Deps.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 1 << 20

type api struct {
	flow *signin.Service
	log  *slog.Logger
}

// NewHandler returns the API's handler; it routes paths below Prefix,
// with the prefix removed: the server mounts it there, behind its request
// middleware (exchange.Middleware).
func NewHandler(d Deps) http.Handler {
	a := &api{flow: d.SignIn, log: d.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	maxBody := cmp.Or(max(d.MaxBodyBytes, 0), DefaultMaxBodyBytes)
	guard := &bearer.Guard{Service: d.Directory, Scope: directory.ScopeAuth, Limiter: d.RateLimit, Metrics: d.Metrics, Log: a.log, Fail: a.writeError}
	r := chi.NewRouter()
	r.Use(exchange.LimitBody(func(*http.Request) int64 { return maxBody }, a.writeError))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, problem{Error: "not_found", Detail: "no sign-in endpoint at " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, problem{Error: "method_not_allowed", Detail: r.Method + " is not supported here; use POST"})
	})
	r.Group(func(r chi.Router) {
		r.Use(guard.Wrap)
		r.Post("/sign-in", a.signIn)
		r.Post("/sign-in/password", a.changeRequiredPassword)
		r.Post("/sign-in/email", a.sendEmailCode)
		r.Post("/sign-in/email/verify", a.verifyEmail)
		r.Post("/sign-in/mfa/enroll", a.enrolMFA)
		r.Post("/sign-in/mfa/verify", a.verifyMFA)
		r.Post("/password", a.changePassword)
	})
	return r
}

// clientOf returns the sign-in client of r: its authenticated token, as
// the bearer guard recorded it in the exchange.
func clientOf(r *http.Request) signin.Client {
	ex := exchange.Of(r.Context())
	return signin.Client{Tenant: ex.Principal.Tenant, TokenID: ex.Principal.Token.ID, TokenName: ex.Principal.Token.Name,
		RequestID: ex.RequestID, Source: ex.Caller.Source}
}

// The request bodies. Pointers tell a member sent from one left out.
type (
	credentialsBody struct {
		Email       *string `json:"email"`
		UserName    *string `json:"userName"`
		Password    *string `json:"password"`
		NewPassword *string `json:"newPassword"`
	}
	sessionBody struct {
		Session     *string `json:"session"`
		NewPassword *string `json:"newPassword"`
		Code        *string `json:"code"`
	}
)

// credentials reads a sign-in body: exactly one of email and userName, a
// password, and newPassword when withNew.
func credentials(r *http.Request, withNew bool) (signin.Credentials, string, error) {
	var b credentialsBody
	if err := readJSON(r, &b); err != nil {
		return signin.Credentials{}, "", err
	}
	switch {
	case (b.Email == nil) == (b.UserName == nil):
		return signin.Credentials{}, "", errMalformed("send exactly one of email and userName")
	case b.Password == nil:
		return signin.Credentials{}, "", errMalformed("password is required")
	case withNew && b.NewPassword == nil:
		return signin.Credentials{}, "", errMalformed("newPassword is required")
	case !withNew && b.NewPassword != nil:
		return signin.Credentials{}, "", errMalformed("newPassword is not a member of this request")
	}
	cr := signin.Credentials{Password: *b.Password}
	if b.Email != nil {
		cr.Email = *b.Email
	} else {
		cr.UserName = *b.UserName
	}
	if withNew {
		return cr, *b.NewPassword, nil
	}
	return cr, "", nil
}

// session reads a step body: the session and, as want lists, newPassword
// or code.
func session(r *http.Request, want string) (sessionBody, error) {
	var b sessionBody
	if err := readJSON(r, &b); err != nil {
		return b, err
	}
	if b.Session == nil {
		return b, errMalformed("session is required")
	}
	for _, m := range []struct {
		name string
		v    *string
	}{{"newPassword", b.NewPassword}, {"code", b.Code}} {
		if m.name == want && m.v == nil {
			return b, errMalformed(m.name + " is required")
		}
		if m.name != want && m.v != nil {
			return b, errMalformed(m.name + " is not a member of this request")
		}
	}
	return b, nil
}

func (a *api) signIn(w http.ResponseWriter, r *http.Request) {
	cr, _, err := credentials(r, false)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.flow.SignIn(r.Context(), clientOf(r), cr)
	a.answer(w, r, res, err)
}

func (a *api) changePassword(w http.ResponseWriter, r *http.Request) {
	cr, newPassword, err := credentials(r, true)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.flow.ChangePassword(r.Context(), clientOf(r), cr, newPassword); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "password_changed"})
}

func (a *api) changeRequiredPassword(w http.ResponseWriter, r *http.Request) {
	b, err := session(r, "newPassword")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.flow.ChangeRequiredPassword(r.Context(), clientOf(r), *b.Session, *b.NewPassword)
	a.answer(w, r, res, err)
}

func (a *api) sendEmailCode(w http.ResponseWriter, r *http.Request) {
	b, err := session(r, "")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.flow.SendEmailCode(r.Context(), clientOf(r), *b.Session)
	a.answer(w, r, res, err)
}

func (a *api) verifyEmail(w http.ResponseWriter, r *http.Request) {
	b, err := session(r, "code")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.flow.VerifyEmail(r.Context(), clientOf(r), *b.Session, *b.Code)
	a.answer(w, r, res, err)
}

func (a *api) enrolMFA(w http.ResponseWriter, r *http.Request) {
	b, err := session(r, "")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	e, err := a.flow.EnrolMFA(r.Context(), clientOf(r), *b.Session)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauthUri": e.URI, "session": e.Session})
}

func (a *api) verifyMFA(w http.ResponseWriter, r *http.Request) {
	b, err := session(r, "code")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.flow.VerifyMFA(r.Context(), clientOf(r), *b.Session, *b.Code)
	a.answer(w, r, res, err)
}

// stepView is the answer of a step: the next step due and its session,
// or signed_in and the user.
type stepView struct {
	Status  signin.Status `json:"status"`
	Session string        `json:"session,omitempty"`
	// EnrolmentIssued: an administrator gave the user a TOTP key; a code
	// of it (mfa/verify) completes mfa_enrollment_required.
	EnrolmentIssued bool `json:"mfaEnrolmentIssued,omitempty"`
	User            any  `json:"user"`
}

// brief is the user of a step still due.
type brief struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Email    string `json:"email"`
}

// signedIn is the user of a completed sign-in.
type signedIn struct {
	ID                 string            `json:"id"`
	UserName           string            `json:"userName"`
	Email              string            `json:"email"`
	Emails             []directory.Email `json:"emails"`
	Name               directory.Name    `json:"name"`
	DisplayName        string            `json:"displayName,omitempty"`
	Groups             []groupView       `json:"groups"`
	EmailVerified      bool              `json:"emailVerified"`
	PasswordMustReset  bool              `json:"passwordMustReset"`
	ForceMFAEnrollment bool              `json:"forceMfaEnrollment"`
	MFAEnrolled        bool              `json:"mfaEnrolled"`
	Status             directory.Status  `json:"status"`
	Custom             map[string]any    `json:"custom"`
}

type groupView struct {
	ID      string `json:"id"`
	Display string `json:"display"`
	Direct  bool   `json:"direct"`
}

func (a *api) answer(w http.ResponseWriter, r *http.Request, res signin.Result, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	u := res.User
	v := stepView{Status: res.Status, Session: res.Session, EnrolmentIssued: res.EnrolmentIssued, User: brief{ID: u.ID, UserName: u.UserName, Email: u.Email}}
	if res.Status == signin.StatusSignedIn {
		s := signedIn{ID: u.ID, UserName: u.UserName, Email: u.Email, Emails: u.Emails, Name: u.Name, DisplayName: u.DisplayName,
			Groups: []groupView{}, EmailVerified: u.EmailVerified, PasswordMustReset: u.PasswordMustReset,
			ForceMFAEnrollment: u.ForceMFAEnrollment, MFAEnrolled: u.MFAEnrolled, Status: u.Status, Custom: u.Custom}
		if s.Emails == nil {
			s.Emails = []directory.Email{}
		}
		if s.Custom == nil {
			s.Custom = map[string]any{}
		}
		for _, g := range res.Groups {
			s.Groups = append(s.Groups, groupView{ID: g.ID, Display: g.Display, Direct: g.Direct})
		}
		v.User = s
	}
	writeJSON(w, http.StatusOK, v)
}

// problem is the body of every refusal: error is a fixed code, detail a
// sentence for the developer (never a reason for a credential failure).
type problem struct {
	Error  string        `json:"error"`
	Detail string        `json:"detail,omitempty"`
	Field  string        `json:"field,omitempty"`
	Status signin.Status `json:"status,omitempty"` // the step due, for step_not_due
}

// malformed is a body that is not what the endpoint takes.
type malformed struct{ detail string }

func (e *malformed) Error() string { return e.detail }

func errMalformed(detail string) error { return &malformed{detail} }

// writeError answers err. Credential failures all answer the same 401;
// internal errors are logged with their cause and answered with the
// request id alone.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		mf *malformed
		te *signin.ThrottledError
		se *signin.StepError
		de *directory.Error
	)
	switch {
	case errors.Is(err, signin.ErrInvalidCredentials):
		writeJSON(w, http.StatusUnauthorized, problem{Error: "invalid_credentials"})
	case errors.Is(err, signin.ErrInvalidSession):
		writeJSON(w, http.StatusUnauthorized, problem{Error: "invalid_session"})
	case errors.Is(err, signin.ErrInvalidCode):
		writeJSON(w, http.StatusBadRequest, problem{Error: "invalid_code", Detail: "the code is wrong, expired or used; the session stays valid"})
	case errors.As(err, &mf):
		writeJSON(w, http.StatusBadRequest, problem{Error: "invalid_request", Detail: mf.detail})
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(te.RetryAfter.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, problem{Error: "throttled", Detail: "too many failed attempts; retry after the delay in Retry-After"})
	case errors.As(err, &se):
		writeJSON(w, http.StatusConflict, problem{Error: "step_not_due", Status: se.Due, Detail: fmt.Sprintf("the step due is %s", se.Due)})
	case errors.As(err, &de) && errorCodes[de.Kind] != "":
		_, st := exchange.StatusOf(err)
		p := problem{Error: errorCodes[de.Kind], Detail: de.Detail}
		switch de.Kind {
		case directory.KindUnauthorized:
			w.Header().Set("WWW-Authenticate", bearer.Challenge)
		case directory.KindForbidden:
			p.Detail = "only tokens with the auth scope call /auth/v1"
		case directory.KindBusy:
			w.Header().Set("Retry-After", "1")
		case directory.KindInvalidValue:
			p.Field = de.Field
			if de.Field == "newPassword" {
				p.Error = "invalid_password"
			}
		}
		writeJSON(w, st.Code, p)
	default:
		writeJSON(w, http.StatusInternalServerError, problem{Error: "internal", Detail: exchange.Internal(a.log, r, err)})
	}
}

// errorCodes names the domain error kinds the API answers, with the
// status of exchange.StatusOf; any other kind is answered as internal.
var errorCodes = map[directory.Kind]string{
	directory.KindUnauthorized:    "invalid_token",
	directory.KindForbidden:       "insufficient_scope",
	directory.KindBusy:            "busy",
	directory.KindInvalidValue:    "invalid_value",
	directory.KindInvalidSyntax:   "invalid_request",
	directory.KindTooLarge:        "too_large",
	directory.KindTooManyRequests: "throttled",
}

// writeJSON writes v as the JSON body of a status answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only for values that cannot be JSON: a bug
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readJSON decodes the request body into v: one JSON object, no unknown
// members, nothing after it.
func readJSON(r *http.Request, v any) error {
	raw, err := reqbody.Read(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errMalformed(fmt.Sprintf("the request body is not the JSON object this endpoint takes: %v", err))
	}
	if dec.More() {
		return errMalformed("the request body has data after the JSON object")
	}
	return nil
}
