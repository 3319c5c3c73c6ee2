package web

import (
	"encoding/base64"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/plural"
)

// What the console tells an administrator after an action: a flash
// message on the next page, an error summary above a refused form, and a
// confirmation page before an action that destroys something.

// flashCookie carries the message of the next page after a redirect (not
// in the URL: a link could not make the console say anything).
const flashCookie = "scimd_flash"

// setFlash shows msg on the next console page.
func (c *console) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)), Path: "/admin",
		HttpOnly: true, Secure: c.pages.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash returns the message set by setFlash, once.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	msg, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(msg) > 500 {
		return ""
	}
	return string(msg)
}

// fieldLabels are the labels of the new-user form's fields, in the
// form's order; custom attributes follow them.
var fieldLabels = []struct{ field, label string }{
	{"email", "Email"}, {"name", "Name"}, {"groups", "Groups"}, {"password", "Password"}, {"flags", "Create directly only"},
	{"active", "Active"}, {"version", "Version"},
}

// summarize lists the errors of a form in the order of its fields, each
// with the label the field shows.
func summarize(errs map[string][]string, attrs []attrField) []summaryItem {
	var out []summaryItem
	seen := map[string]bool{}
	add := func(field, label string) {
		for _, m := range errs[field] {
			l := label
			if strings.HasPrefix(m, label) { // "Password is required" needs no "Password:"
				l = ""
			}
			out = append(out, summaryItem{Field: field, Label: l, Message: m})
		}
		seen[field] = true
	}
	for _, f := range fieldLabels {
		add(f.field, f.label)
	}
	for _, a := range attrs {
		add("attr-"+a.Name, a.Name)
	}
	var rest []string
	for f := range errs {
		if !seen[f] {
			rest = append(rest, f)
		}
	}
	slices.Sort(rest)
	for _, f := range rest {
		add(f, strings.TrimPrefix(f, "attr-"))
	}
	return out
}

// confirmation is a page that asks before a destructive action: its form
// posts the same values again with confirm=yes.
type confirmation struct {
	Question, Action, Button, Back string
	Values                         []nameValue
}

// confirmed reports whether a destructive POST was confirmed; when not, it
// answers with the confirmation page asking question.
func (c *console) confirmed(w http.ResponseWriter, r *http.Request, question, button, back string) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	cf := &confirmation{Question: question, Action: r.URL.Path, Button: button, Back: back}
	for _, k := range slices.Sorted(maps.Keys(r.PostForm)) {
		if k == "csrf" || k == onceField {
			continue
		}
		for _, v := range r.PostForm[k] {
			cf.Values = append(cf.Values, nameValue{Name: k, Value: v})
		}
	}
	c.render(w, r, http.StatusOK, "confirm.html", view{page: page{Title: "Are you sure?"}, Confirm: cf})
	return false
}

// humanDuration writes d in the largest whole unit that fits: "7 days",
// "36 hours", "90 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural.Count(int(d/(24*time.Hour)), "day", "days")
	case d >= time.Hour && d%time.Hour == 0:
		return plural.Count(int(d/time.Hour), "hour", "hours")
	case d >= time.Minute && d%time.Minute == 0:
		return plural.Count(int(d/time.Minute), "minute", "minutes")
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " seconds"
}
