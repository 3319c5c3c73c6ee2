// Package email validates the email addresses scimd stores and puts them in
// their canonical stored form.
//
// Product rule:
//
// Email format: an addr-spec only (no display name, comments or angle
// brackets); an ASCII dot-atom local part of at most 64 octets; at most 254
// octets in all; a domain of at least two labels, each 1–63 letters, digits
// or hyphens (not at either end), whose last label (the TLD) is alphabetic or
// an IDN A-label (xn--...); Unicode domains accepted and stored as A-labels;
// IP literals refused. `user+tag@domain.com` works; `user@localhost`,
// `user@domain` (no TLD), `"quoted"@domain.com`, `a@b@c.com` refuse.
//
// The package imports no HTTP and no SQL.
package email

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/scimd/scimd/internal/fold"
)

// Limits of the product rule, in octets.
const (
	maxLocal   = 64
	maxAddress = 254
	maxLabel   = 63
)

// profile converts Unicode domains to A-labels. It is the IDNA2008 lookup
// profile of RFC 5891 section 5 (UTS #46 mapping, non-transitional, so "ß"
// stays "ß") with the Bidi rule, STD3 character rules, hyphen and joiner
// checks, and validation of A-labels already present. Lengths are checked by
// Parse on the result, so that it can say which label is too long.
var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
)

// Error reports why an address was refused. Error() reads like:
//
//	invalid email address "a@b": the domain needs at least two labels (e.g. example.com)
type Error struct {
	// Address is the address as sent.
	Address string
	// Reason says which part of the address is wrong and why.
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("invalid email address %q: %s", e.Address, e.Reason)
}

// Parse validates s and returns the address in canonical stored form: the
// local part exactly as sent; the domain converted to its IDN A-label form
// when it contains non-ASCII, otherwise kept as sent, letter case included.
// It returns an *Error on refusal.
//
// A domain with non-ASCII characters is mapped as for lookup (lower-cased,
// full-width forms narrowed, ignorable characters dropped) and validated
// before conversion. Nothing is trimmed: surrounding whitespace is refused.
// A domain label (sent in Unicode or as an A-label) that mixes scripts
// beyond what UTS #39's "Highly Restrictive" level allows is refused: see
// mixedScriptReason. The result is ASCII, at most 254 octets long, and
// Parse returns it unchanged.
func Parse(s string) (string, error) {
	addr, reason := parse(s)
	if reason == "" {
		reason = mixedScriptReason(addr[strings.IndexByte(addr, '@')+1:])
	}
	if reason != "" {
		return "", &Error{Address: s, Reason: reason}
	}
	return addr, nil
}

// parse is Parse without the script rule, with the refusal reason
// returned as a string, empty when s is accepted.
func parse(s string) (addr, reason string) {
	if r := wholeReason(s); r != "" {
		return "", r
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if r := localReason(local); r != "" {
		return "", r
	}
	if domain == "" {
		return "", "the domain (after the @) is empty"
	}
	if domain[0] == '[' {
		return "", "IP-address literals are not accepted; use a domain name"
	}
	if !isASCII(domain) {
		a, err := profile.ToASCII(domain)
		if err != nil {
			if r := shapeReason(domain); r != "" {
				return "", r
			}
			return "", fmt.Sprintf("the domain %q is not a valid internationalised domain name (%s)",
				domain, strings.TrimPrefix(err.Error(), "idna: "))
		}
		domain = a
	}
	if r := domainReason(domain); r != "" {
		return "", r
	}
	addr = local + "@" + domain
	if len(addr) > maxAddress {
		return "", fmt.Sprintf("the address is %d octets long; at most %d are allowed", len(addr), maxAddress)
	}
	return addr, ""
}

// wholeReason checks what can be judged on the address as a whole: that it
// is a bare addr-spec, without whitespace or control characters, with
// exactly one @.
func wholeReason(s string) string {
	switch {
	case s == "":
		return "the address is empty"
	case !utf8.ValidString(s):
		return "the address is not valid UTF-8"
	case strings.ContainsAny(s, "<>"):
		return "display names and angle brackets are not accepted; send only the address, e.g. user@example.com"
	case strings.ContainsAny(s, "()"):
		return "comments in parentheses are not accepted; send only the address"
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "the address may not start or end with whitespace"
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return "the address may not contain whitespace"
		}
		if unicode.IsControl(r) {
			return "the address may not contain control characters"
		}
	}
	switch strings.Count(s, "@") {
	case 0:
		return "missing @"
	case 1:
		return ""
	}
	if strings.Contains(s, `"`) {
		// Only a quoted local part can legitimately hold a second @.
		return "the local part may not contain quotes"
	}
	return "more than one @"
}

// localReason checks that local is an ASCII dot-atom of at most maxLocal
// octets.
func localReason(local string) string {
	switch {
	case local == "":
		return "the local part (before the @) is empty"
	case len(local) > maxLocal:
		return fmt.Sprintf("the local part is %d octets long; at most %d are allowed", len(local), maxLocal)
	case strings.Contains(local, `"`):
		return "the local part may not contain quotes"
	case local[0] == '.':
		return "the local part may not start with a dot"
	case local[len(local)-1] == '.':
		return "the local part may not end with a dot"
	case strings.Contains(local, ".."):
		return "the local part may not contain two dots in a row"
	}
	for _, r := range local {
		if r >= utf8.RuneSelf {
			return fmt.Sprintf("the local part may contain only ASCII characters, not %q", r)
		}
		if r != '.' && !isAtext(byte(r)) {
			return fmt.Sprintf("the local part may not contain %q", r)
		}
	}
	return ""
}

// isAtext reports whether c is an atext character of RFC 5322.
func isAtext(c byte) bool {
	return isLetter(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// shapeReason checks the dots and hyphens of domain, which may still be in
// Unicode: no empty label, at least two labels, no label starting or ending
// with a hyphen.
func shapeReason(domain string) string {
	switch {
	case domain[0] == '.':
		return "the domain may not start with a dot"
	case domain[len(domain)-1] == '.':
		return "the domain may not end with a dot"
	case strings.Contains(domain, ".."):
		return "the domain may not contain two dots in a row"
	case !strings.Contains(domain, "."):
		return "the domain needs at least two labels (e.g. example.com)"
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("the domain label %q may not start or end with a hyphen", label)
		}
	}
	return ""
}

// domainReason checks an ASCII domain against the product rule.
func domainReason(domain string) string {
	if domain == "" {
		// Possible when a Unicode domain maps to nothing, e.g. only U+00AD.
		return "the domain (after the @) is empty"
	}
	if r := shapeReason(domain); r != "" {
		return r
	}
	labels := strings.Split(domain, ".")
	for _, label := range labels {
		if len(label) > maxLabel {
			return fmt.Sprintf("the domain label %q is %d octets long; at most %d are allowed", label, len(label), maxLabel)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLetter(c) && !isDigit(c) && c != '-' {
				return fmt.Sprintf("the domain may not contain %q; only letters, digits, hyphens and dots are allowed", c)
			}
		}
		if isALabel(label) {
			if a, err := profile.ToASCII(label); err != nil || a != strings.ToLower(label) {
				return fmt.Sprintf("the domain label %q is not a valid IDN A-label", label)
			}
		}
	}
	tld := labels[len(labels)-1]
	if !isALabel(tld) {
		for i := 0; i < len(tld); i++ {
			if !isLetter(tld[i]) {
				return fmt.Sprintf("the top-level domain %q must be alphabetic", tld)
			}
		}
	}
	return ""
}

// isALabel reports whether label carries the IDNA ACE prefix "xn--".
func isALabel(label string) bool {
	return len(label) >= 4 && strings.EqualFold(label[:4], "xn--")
}

// isASCII reports whether s consists of ASCII characters only.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool {
	return 'a' <= c|0x20 && c|0x20 <= 'z'
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}

// Key returns the comparison key of an address: the folded canonical form
// when v is a well-formed address (so a Unicode domain matches its A-label
// form), else the folded v. Unique indexes and eq filters use it. The
// script rule of Parse does not apply: an address stored before it finds
// its key unchanged.
func Key(v string) string {
	if addr, reason := parse(v); reason == "" {
		v = addr
	}
	return fold.Key(v)
}
