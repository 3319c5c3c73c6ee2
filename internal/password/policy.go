package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Bounds on the settings of a Policy, enforced by Validate.
const (
	minMinLength    = 15   // the shortest minimum length without MFA
	minMinLengthMFA = 8    // the shortest minimum length when MFA is forced
	minMaxLength    = 64   // the lowest maximum length a tenant may set
	maxMaxLength    = 4096 // the highest maximum length a tenant may set
	minContextLen   = 4    // context values shorter than this are not checked
)

// Policy is a tenant's password policy. The zero value refuses every
// password; start from DefaultPolicy.
type Policy struct {
	// MinLength and MaxLength bound the length in Unicode code points after
	// NFKC normalisation.
	MinLength int `json:"minLength"`
	MaxLength int `json:"maxLength"`
	// MinLower, MinUpper, MinDigits and MinSymbols are the least number of
	// lower-case letters, upper-case letters, decimal digits and symbols
	// (punctuation, symbols and spaces) a password must contain; 0 turns
	// the rule off.
	MinLower   int `json:"minLower"`
	MinUpper   int `json:"minUpper"`
	MinDigits  int `json:"minDigits"`
	MinSymbols int `json:"minSymbols"`
	// Blocklist refuses passwords on the embedded list of common passwords.
	Blocklist bool `json:"blocklist"`
	// ContextCheck refuses passwords that contain the local part of the
	// user's email address, the userName or the tenant's name.
	ContextCheck bool `json:"contextCheck"`
}

// DefaultPolicy returns the NIST SP 800-63B-4 policy: 15 to 128 characters,
// no character-class rules, blocklist and context checks on.
func DefaultPolicy() Policy {
	return Policy{MinLength: 15, MaxLength: 128, Blocklist: true, ContextCheck: true}
}

// Validate reports whether the policy itself is within bounds: MinLength at
// least 15, or at least 8 when mfaRequired; MaxLength at least 64, at least
// MinLength and at most 4096; no negative character-class minimum, and the
// minimums adding up to no more than MinLength. The error names every
// setting that is out of bounds.
func (p Policy) Validate(mfaRequired bool) error {
	var bad []string
	switch {
	case p.MinLength < minMinLengthMFA:
		bad = append(bad, fmt.Sprintf("minLength must be at least %d (got %d)", minMinLengthMFA, p.MinLength))
	case p.MinLength < minMinLength && !mfaRequired:
		bad = append(bad, fmt.Sprintf("minLength must be at least %d unless MFA is required (got %d)", minMinLength, p.MinLength))
	}
	switch {
	case p.MaxLength < minMaxLength:
		bad = append(bad, fmt.Sprintf("maxLength must be at least %d (got %d)", minMaxLength, p.MaxLength))
	case p.MaxLength > maxMaxLength:
		bad = append(bad, fmt.Sprintf("maxLength must be at most %d (got %d)", maxMaxLength, p.MaxLength))
	case p.MaxLength < p.MinLength:
		bad = append(bad, fmt.Sprintf("maxLength must be at least minLength %d (got %d)", p.MinLength, p.MaxLength))
	}
	classes := []struct {
		name string
		min  int
	}{
		{"minLower", p.MinLower},
		{"minUpper", p.MinUpper},
		{"minDigits", p.MinDigits},
		{"minSymbols", p.MinSymbols},
	}
	sum := 0
	for _, c := range classes {
		if c.min < 0 {
			bad = append(bad, fmt.Sprintf("%s must not be negative (got %d)", c.name, c.min))
		}
		sum += c.min
	}
	if sum > p.MinLength {
		bad = append(bad, fmt.Sprintf("minLower, minUpper, minDigits and minSymbols add up to %d, more than minLength %d", sum, p.MinLength))
	}
	if len(bad) > 0 {
		return errors.New("invalid password policy: " + strings.Join(bad, "; "))
	}
	return nil
}

// Context is what a password may not contain: the user's email address
// (only its local part is checked), userName and the tenant's name.
type Context struct {
	Email, UserName, TenantName string
}

// The rules a password can break, as reported in Violation.Rule.
const (
	RuleMinLength          = "minLength"
	RuleMaxLength          = "maxLength"
	RuleCharacterClasses   = "characterClasses"
	RuleBlocklist          = "blocklist"
	RuleContainsEmail      = "containsEmail"
	RuleContainsUserName   = "containsUserName"
	RuleContainsTenantName = "containsTenantName"
)

// Violation is one rule a password breaks. Rule is one of the Rule*
// constants; Message says what is wrong without repeating the password.
type Violation struct {
	Rule    string
	Message string
}

// PolicyError lists every rule a password breaks, in a fixed order: length,
// character classes, blocklist, then context.
type PolicyError struct {
	Violations []Violation
}

// Error reads, for example, "password does not meet the policy: minLength:
// must be at least 15 characters (got 8); blocklist: is a commonly used
// password".
func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString("password does not meet the policy")
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Rule + ": " + v.Message)
	}
	return b.String()
}

// Check returns nil if pw meets the policy, and otherwise a *PolicyError
// naming every rule it breaks.
//
// Input longer than four bytes per allowed character cannot be short enough
// in any normalisation and is refused with a single maxLength violation
// before it is normalised. Otherwise pw is NFKC normalised and every rule
// is checked: lengths in code points, character classes, the blocklist and,
// without regard to case, the context values (each of at least four
// characters). Check applies p as it is; Validate it when it is set.
func (p Policy) Check(pw string, c Context) error {
	if len(pw) > 4*p.MaxLength {
		return &PolicyError{Violations: []Violation{{
			Rule:    RuleMaxLength,
			Message: fmt.Sprintf("must be at most %d characters (got %d bytes)", p.MaxLength, len(pw)),
		}}}
	}
	var vs []Violation
	add := func(rule, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	normal := norm.NFKC.String(pw)
	n := utf8.RuneCountInString(normal)
	if n < p.MinLength {
		add(RuleMinLength, "must be at least %d characters (got %d)", p.MinLength, n)
	}
	if n > p.MaxLength {
		add(RuleMaxLength, "must be at most %d characters (got %d)", p.MaxLength, n)
	}
	if msg := p.checkClasses(normal); msg != "" {
		add(RuleCharacterClasses, "must contain at least %s", msg)
	}
	key := foldKey(normal)
	if p.Blocklist && blocked(key) {
		add(RuleBlocklist, "is a commonly used password")
	}
	if p.ContextCheck {
		local := c.Email
		if at := strings.LastIndexByte(local, '@'); at >= 0 {
			local = local[:at]
		}
		if contains(key, local) {
			add(RuleContainsEmail, "must not contain the local part of the email address")
		}
		if contains(key, c.UserName) {
			add(RuleContainsUserName, "must not contain the userName")
		}
		if contains(key, c.TenantName) {
			add(RuleContainsTenantName, "must not contain the tenant name")
		}
	}
	if len(vs) > 0 {
		return &PolicyError{Violations: vs}
	}
	return nil
}

// checkClasses counts the character classes of the normalised password s
// and returns the unmet minimums, such as "2 digits (got 1), 1 symbol (got
// 0)", or "" when all are met.
func (p Policy) checkClasses(s string) string {
	var lower, upper, digits, symbols int
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			lower++
		case unicode.IsUpper(r):
			upper++
		case unicode.IsDigit(r):
			digits++
		case unicode.IsPunct(r), unicode.IsSymbol(r), unicode.IsSpace(r):
			symbols++
		}
	}
	var short []string
	for _, c := range []struct {
		min, got         int
		singular, plural string
	}{
		{p.MinLower, lower, "lower-case letter", "lower-case letters"},
		{p.MinUpper, upper, "upper-case letter", "upper-case letters"},
		{p.MinDigits, digits, "digit", "digits"},
		{p.MinSymbols, symbols, "symbol", "symbols"},
	} {
		if c.got < c.min {
			noun := c.plural
			if c.min == 1 {
				noun = c.singular
			}
			short = append(short, fmt.Sprintf("%d %s (got %d)", c.min, noun, c.got))
		}
	}
	return strings.Join(short, ", ")
}

// contains reports whether key, a normalised lower-case password, contains
// value compared the same way. Values shorter than minContextLen characters
// (after trimming spaces) never match.
func contains(key, value string) bool {
	v := foldKey(strings.TrimSpace(value))
	return utf8.RuneCountInString(v) >= minContextLen && strings.Contains(key, v)
}

// foldKey returns s NFKC normalised and in lower case, the form in which a
// password is compared with the blocklist and the context values.
func foldKey(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}
