// Package web serves scimd's pages for people: the acceptance of an
// invitation and the reset of a temporary password (/invite/{secret},
// /reset/{secret}), and the administrators' console (/admin/, see
// console.go): server-rendered HTML that works without JavaScript, with
// CSRF protection and strict security headers. The rules are the domain's
// (directory.Service); this package only renders them.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/pquerna/otp"

	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/internal/secretbox"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	// field is the data of the field-errors template: the errors of the
	// form field name.
	"field": func(v view, name string) fieldErrors { return fieldErrors{Errors: v.Errors, Name: name} },
	// form is the data of the form template: a form of a list page and
	// the page's CSRF token.
	"form": func(v view, spec formSpec) formData { return formData{Spec: spec, CSRF: v.CSRF, Once: v.Once} },
	// count writes a count with its noun: {{count .Total "user" "users"}}.
	"count": plural.Count[int],
}).ParseFS(templateFiles, "templates/*.html"))

// css is the one style sheet, inline: the Content-Security-Policy allows
// exactly it by its hash.
const css = `body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;background:#f4f5f7;color:#1b1d21}` +
	`main{max-width:28rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}` +
	`h1{font-size:1.5rem;margin-top:0}.tenant{color:#555;margin:0 0 .5rem}label{display:block;font-weight:600;margin-top:1rem}` +
	`input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #888;border-radius:4px}` +
	`input[aria-invalid=true]{border-color:#b00020}.errors{color:#b00020;padding-left:1.2rem}.hint{color:#555;font-size:.9rem}` +
	`button{margin-top:1.2rem;padding:.7rem 1.2rem;font-size:1rem;background:#1f4fd1;color:#fff;border:0;border-radius:4px;cursor:pointer}` +
	`button:focus,input:focus,select:focus,a:focus{outline:3px solid #f5b400;outline-offset:1px}code{font-size:1.1rem;letter-spacing:.08em}` +
	// The console.
	`body.console main{max-width:72rem;margin:1.5rem auto}body.console header{display:flex;flex-wrap:wrap;align-items:center;gap:.8rem;` +
	`padding:.6rem 1.5rem;background:#1b1d21;color:#fff}body.console header .tenant{color:#cfd3da}.brand{font-weight:700}` +
	`nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem;flex:1}nav a{color:#e8ecf3;text-decoration:none}nav a[aria-current=page]{text-decoration:underline;font-weight:600}` +
	`.signout button{margin:0;padding:.3rem .8rem;font-size:.9rem;background:#444}table{border-collapse:collapse;width:100%;font-size:.95rem}` +
	`th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}th{background:#f0f2f5}` +
	`select{font-size:1rem;padding:.4rem;min-width:16rem}fieldset{border:1px solid #ccd;border-radius:4px;margin-top:1rem}` +
	`label.inline{display:block;font-weight:400;margin-top:.4rem}.search{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}` +
	`.search label{margin:0}.search input{width:auto}.search button{margin:0}.flash{background:#e6f4ea;padding:.6rem;border-radius:4px;word-break:break-all}` +
	`.problem{background:#fde7e9;color:#8a0016;padding:.6rem;border-radius:4px}dl.props{display:grid;grid-template-columns:14rem 1fr;gap:.3rem 1rem}` +
	`dl.props dt{font-weight:600}dl.props dd{margin:0}.actions{display:flex;gap:.8rem;flex-wrap:wrap}.actions button{margin-top:0}` +
	`form.small{display:flex;flex-wrap:wrap;gap:.4rem .8rem;align-items:end;margin:.4rem 0}form.small label{margin:0;font-weight:400}` +
	`form.small input[type=text],form.small input[type=number]{width:auto}form.small button{margin:0;padding:.4rem .9rem}` +
	`.inline-form{display:inline}.inline-form button{margin:0 0 0 .6rem;padding:.2rem .6rem;font-size:.85rem}` +
	`button.danger{background:#b00020}input[type=email],input[type=file]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #888;border-radius:4px}` +
	// The skip link shows when focused; the error summary; invite mode
	// hides the fields of Create directly (no script).
	`.skip{position:absolute;left:-999px;top:0;background:#fff;color:#1f4fd1;padding:.5rem 1rem;z-index:1}.skip:focus{left:.5rem}` +
	`#error-summary h2{font-size:1.1rem;margin:0 0 .3rem}#error-summary a{color:#8a0016}` +
	`form.newuser:has(#mode-invite:checked) .create-only{display:none}` +
	// A key shown once on the detail page breaks between words, not in them.
	`#issued-key{word-break:normal}` +
	// Narrow screens: wide tables scroll in their card, the rest stacks.
	`.scroll{overflow-x:auto;max-width:100%}td form.small{flex-wrap:wrap}` +
	`@media (max-width:640px){body.console main{margin:0;padding:1rem;border-radius:0}dl.props{grid-template-columns:1fr}` +
	`dl.props dd{margin-bottom:.4rem}select{min-width:0;max-width:100%}body.console header{padding:.6rem 1rem}` +
	`.flash,.problem,code{overflow-wrap:anywhere}form.small input[type=text],form.small input[type=number]{width:100%}}`

var cspStyle = func() string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// maxForm bounds a form body.
const maxForm = 16 << 10

// csrfCookie holds the double-submit token of the forms.
const csrfCookie = "scimd_csrf"

// Deps is what the pages need.
type Deps struct {
	Service *directory.Service
	Logger  *slog.Logger
	// PublicURL is the address people reach the pages at, such as
	// https://id.example.com (behind a TLS proxy too): links shown are
	// built on it, and cookies are Secure when it is https. Empty: the
	// request's own scheme and host.
	PublicURL string
	// Events, when set, lets the console show the tenant's event streams.
	Events *events.Service
	// MailQueued tells that no SMTP server is configured: invitation
	// emails wait in the outbox, and the console says so.
	MailQueued bool
	// State keeps the console's import jobs and one-time form tokens in
	// the database, so that any replica serves the next page.
	State consolestate.Store
	// Box seals the answers that one-time form tokens keep (a page may
	// show a secret once); nil: a repeated submission that follows a page
	// is told that the first one was carried out, without the page.
	Box *secretbox.Box
}

type pagesHandler struct {
	svc    *directory.Service
	log    *slog.Logger
	public string
	events *events.Service // nil: no event streams page
	// mailQueued: see Deps.MailQueued.
	mailQueued bool
	state      consolestate.Store
	box        *secretbox.Box
}

// publicBase is the pages' public address: Deps.PublicURL, else the
// scheme and host of the request.
func (h *pagesHandler) publicBase(r *http.Request) string {
	if h.public != "" {
		return h.public
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// secure tells whether cookies must be Secure: the request came over TLS,
// or the public address is https (a TLS proxy in front).
func (h *pagesHandler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(h.public, "https://")
}

// NewHandler returns the handler of /invite/... and /reset/....
func NewHandler(d Deps) http.Handler {
	h := &pagesHandler{svc: d.Service, log: d.Logger, public: strings.TrimSuffix(d.PublicURL, "/"), events: d.Events, mailQueued: d.MailQueued,
		state: d.State, box: d.Box}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	r := chi.NewRouter()
	r.Use(h.securityHeaders)
	cop := http.NewCrossOriginProtection() // refuses cross-site POSTs (Sec-Fetch-Site, Origin)
	r.Use(cop.Handler)
	for _, kind := range []directory.LinkKind{directory.LinkInvite, directory.LinkReset} {
		base := "/" + string(kind) + "/{secret}"
		r.Get(base, h.show(kind))
		r.Post(base, h.setPassword(kind))
		r.Post(base+"/mfa", h.confirmTOTP(kind))
	}
	h.consoleRoutes(r)
	return r
}

// securityHeaders sets the headers of every page: a strict CSP (no script
// at all, the one inline style by hash, images only as data: URLs, forms
// only to this origin, no framing), no referrer (the URL holds a secret),
// no caching.
func (ph *pagesHandler) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src "+cspStyle+"; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cache-Control", "no-store")
		if ph.secure(r) {
			hdr.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}

// cssSetter is the data of a page, which carries the style sheet.
type cssSetter interface{ setCSS() }

func (p *page) setCSS() { p.CSS = template.CSS(css) } // a constant of this package

// page is the data of every template.
type page struct {
	Title, TenantName   string
	CSS                 template.CSS
	Kind                directory.LinkKind
	Email, Action, CSRF string
	Rules, Message      string
	Errors              []password.Violation
	QR, ManualKey       template.URL
}

func (h *pagesHandler) render(w http.ResponseWriter, status int, name string, data cssSetter) {
	data.setCSS()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		h.log.Error("render page", "page", name, "err", err)
	}
}

// problem answers a link that cannot be used, or an internal error, with a
// page that says what to do.
func (h *pagesHandler) problem(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := http.StatusGone, "This link cannot be used", directory.DetailOf(err)
	switch {
	case errors.Is(err, directory.ErrLinkUnknown):
		status = http.StatusNotFound
	case errors.Is(err, directory.ErrLinkUsed), errors.Is(err, directory.ErrLinkExpired), errors.Is(err, directory.ErrLinkRevoked),
		errors.Is(err, directory.ErrLinkStale):
	case directory.KindOf(err) == directory.KindBusy:
		status, title = http.StatusConflict, "Please try again"
	default:
		status, title, msg = http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again in a moment."
		h.log.ErrorContext(r.Context(), "link page", "path", redactPath(r.URL.Path), "err", err)
	}
	h.render(w, status, "problem.html", &page{Title: title, Message: msg})
}

// redactPath is a link page's path without its secret, for logs.
func redactPath(p string) string {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) >= 2 {
		parts[1] = "…"
	}
	return "/" + strings.Join(parts, "/")
}

// show serves GET: the password form, or the MFA step when the password
// is chosen already.
func (h *pagesHandler) show(kind directory.LinkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := chi.URLParam(r, "secret")
		st, err := h.openLink(r, kind, secret)
		if err != nil {
			h.problem(w, r, err)
			return
		}
		token := h.csrfToken(w, r)
		if st.Link.PendingTOTP != "" {
			h.renderMFA(w, r, st, kind, secret, token, nil)
			return
		}
		h.renderPassword(w, http.StatusOK, st, kind, secret, token, nil)
	}
}

// openLink opens the link of a page, which must be of the page's kind.
func (h *pagesHandler) openLink(r *http.Request, kind directory.LinkKind, secret string) (directory.LinkState, error) {
	st, err := h.svc.OpenLink(r.Context(), secret)
	if err == nil && st.Link.Kind != kind {
		return directory.LinkState{}, directory.ErrLinkUnknown
	}
	return st, err
}

func title(kind directory.LinkKind) string {
	if kind == directory.LinkReset {
		return "Choose a new password"
	}
	return "Accept your invitation"
}

func (h *pagesHandler) renderPassword(w http.ResponseWriter, status int, st directory.LinkState, kind directory.LinkKind, secret, token string, errs []password.Violation) {
	p := st.Tenant.PasswordPolicy
	rules := fmt.Sprintf("At least %d characters", p.MinLength)
	if p.Blocklist {
		rules += ", not a common or breached password"
	}
	if p.ContextCheck {
		rules += ", not containing your email or the organisation's name"
	}
	h.render(w, status, "password.html", &page{Title: title(kind), TenantName: st.Tenant.Name, Kind: kind, Email: st.User.Email,
		Action: directory.LinkPath(kind, url.PathEscape(secret)), CSRF: token, Rules: rules + ".", Errors: errs})
}

func (h *pagesHandler) renderMFA(w http.ResponseWriter, r *http.Request, st directory.LinkState, kind directory.LinkKind, secret, token string, errs []password.Violation) {
	keyURL, err := h.svc.PendingTOTP(r.Context(), secret)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	key, err := otp.NewKeyFromURL(keyURL)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	qr, err := qrImage(key)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	status := http.StatusOK
	if errs != nil {
		status = http.StatusUnprocessableEntity
	}
	h.render(w, status, "mfa.html", &page{Title: "Set up two-step verification", TenantName: st.Tenant.Name, Kind: kind,
		Action: directory.LinkPath(kind, url.PathEscape(secret)) + "/mfa", CSRF: token, Errors: errs,
		QR: qr, ManualKey: template.URL(group(key.Secret()))})
}

// qrImage is the QR code of a TOTP key as a data: URL (the pages' CSP
// allows images from data: only).
func qrImage(key *otp.Key) (template.URL, error) {
	qr, err := key.Image(220, 220)
	if err != nil {
		return "", fmt.Errorf("render the TOTP QR code: %w", err)
	}
	var img bytes.Buffer
	if err := png.Encode(&img, qr); err != nil {
		return "", fmt.Errorf("encode the TOTP QR code: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img.Bytes())), nil
}

// group writes a key in groups of four characters, to copy by hand.
func group(key string) string {
	var b strings.Builder
	for i, c := range key {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// readForm reads a posted form of at most maxForm bytes and checks its
// CSRF token against the cookie.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("read form: %w", err)
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		return errCSRF
	}
	return nil
}

var errCSRF = errors.New("the form's security token is missing or stale")

// csrfToken returns the request's CSRF token, setting a new one in the
// cookie when it has none.
func (h *pagesHandler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	// As long as a console session: a form loaded late in one still posts.
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionTTL / time.Second)})
	return v
}

// formProblem answers a form that failed its CSRF check or could not be
// read: nothing was done; the page is to be opened again.
func (h *pagesHandler) formProblem(w http.ResponseWriter, err error) {
	h.render(w, http.StatusForbidden, "problem.html", &page{Title: "Please try again",
		Message: "The form could not be accepted (" + err.Error() + "). Open the page again and retry."})
}

// postedLink reads a link page's form (checking its CSRF token) and opens
// its link, answering the request itself when either fails.
func (h *pagesHandler) postedLink(w http.ResponseWriter, r *http.Request, kind directory.LinkKind) (string, directory.LinkState, bool) {
	secret := chi.URLParam(r, "secret")
	if err := readForm(w, r); err != nil {
		h.formProblem(w, err)
		return "", directory.LinkState{}, false
	}
	st, err := h.openLink(r, kind, secret)
	if err != nil {
		h.problem(w, r, err)
		return "", directory.LinkState{}, false
	}
	return secret, st, true
}

// setPassword serves the POST of the password form.
func (h *pagesHandler) setPassword(kind directory.LinkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, st, ok := h.postedLink(w, r, kind)
		if !ok {
			return
		}
		token := h.csrfToken(w, r)
		keyURL, err := h.svc.SetLinkPassword(r.Context(), secret, r.PostForm.Get("password"), exchange.RemoteIP(r))
		var pe *password.PolicyError
		switch {
		case errors.As(err, &pe):
			h.renderPassword(w, http.StatusUnprocessableEntity, st, kind, secret, token, pe.Violations)
		case directory.KindOf(err) == directory.KindInvalidValue:
			h.renderPassword(w, http.StatusUnprocessableEntity, st, kind, secret, token, []password.Violation{{Rule: "password", Message: directory.DetailOf(err)}})
		case err != nil:
			h.problem(w, r, err)
		case keyURL != "":
			http.Redirect(w, r, directory.LinkPath(kind, url.PathEscape(secret)), http.StatusSeeOther) // GET shows the MFA step
		default:
			h.done(w, kind)
		}
	}
}

// confirmTOTP serves the POST of the MFA form.
func (h *pagesHandler) confirmTOTP(kind directory.LinkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, st, ok := h.postedLink(w, r, kind)
		if !ok {
			return
		}
		if st.Link.PendingTOTP == "" { // the password step first
			http.Redirect(w, r, directory.LinkPath(kind, url.PathEscape(secret)), http.StatusSeeOther)
			return
		}
		err := h.svc.ConfirmTOTP(r.Context(), secret, r.PostForm.Get("code"), exchange.RemoteIP(r))
		switch {
		case directory.KindOf(err) == directory.KindInvalidValue:
			h.renderMFA(w, r, st, kind, secret, h.csrfToken(w, r), []password.Violation{{Rule: "code", Message: directory.DetailOf(err)}})
		case err != nil:
			h.problem(w, r, err)
		default:
			h.done(w, kind)
		}
	}
}

func (h *pagesHandler) done(w http.ResponseWriter, kind directory.LinkKind) {
	msg := "Your new password is set. You can now sign in with it."
	if kind == directory.LinkInvite {
		msg = "You're in: your account is ready. You can now sign in with your email and password."
	}
	h.render(w, http.StatusOK, "done.html", &page{Title: "All set", Message: msg})
}
