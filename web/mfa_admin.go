package web

import (
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// issuedKey is a TOTP key the detail page shows once, after the
// administrator generated it.
type issuedKey struct {
	QR        template.URL
	ManualKey string
	Expires   string
}

// issueEnrolment generates a TOTP key for the user and answers the
// detail page with it (its QR code and text, this once: never in a URL,
// never stored in clear), to hand to the user, who confirms it with a
// code at their next sign-in.
func (c *console) issueEnrolment(w http.ResponseWriter, r *http.Request, id string) {
	s := sessionOf(r)
	key, err := c.svc.IssueMFAEnrolment(r.Context(), s.caller, s.principal.Tenant.ID, id)
	if err != nil {
		c.backWith(w, r, "/admin/users/"+url.PathEscape(id), err)
		return
	}
	qr, err := qrImage(key)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v, err := c.userView(r, id, nil, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v.Issued = &issuedKey{QR: qr, ManualKey: group(key.Secret()), Expires: v.MFA.Pending.ExpiresAt.UTC().Format(time.DateOnly)}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, http.StatusOK, "user.html", v)
}

// markFactorLost removes one of the user's factors, after a
// confirmation.
func (c *console) markFactorLost(w http.ResponseWriter, r *http.Request, id string) {
	s := sessionOf(r)
	back := "/admin/users/" + url.PathEscape(id)
	if _, err := c.svc.User(r.Context(), s.principal.Tenant.ID, id); err != nil {
		c.fail(w, r, err) // another tenant's user is not found
		return
	}
	if !c.confirmed(w, r, "Mark this MFA factor as lost? It stops working at once; the user enrols again at their next sign-in if MFA is required or forced, or you generate a new key for them.", "Mark as lost", back) {
		return
	}
	if err := c.svc.MarkFactorLost(r.Context(), s.caller, s.principal.Tenant.ID, id, r.PostForm.Get("factor")); err != nil {
		c.backWith(w, r, back, err)
		return
	}
	c.setFlash(w, r, "The factor is removed: the user enrols again at their next sign-in (if MFA is required or forced), or generate a key for them below.")
	http.Redirect(w, r, back, http.StatusSeeOther)
}
