package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestDefaultPolicy(t *testing.T) {
	want := Policy{MinLength: 15, MaxLength: 128, Blocklist: true, ContextCheck: true}
	if got := DefaultPolicy(); got != want {
		t.Errorf("DefaultPolicy() = %+v, want %+v", got, want)
	}
	if err := DefaultPolicy().Validate(false); err != nil {
		t.Errorf("DefaultPolicy().Validate(false) = %v, want nil", err)
	}
}

func TestValidate(t *testing.T) {
	with := func(f func(*Policy)) Policy {
		p := DefaultPolicy()
		f(&p)
		return p
	}
	tests := []struct {
		name   string
		p      Policy
		mfa    bool
		wantIn []string // settings the error must name; none means no error
	}{
		{"default", DefaultPolicy(), false, nil},
		{"min 14 without MFA", with(func(p *Policy) { p.MinLength = 14 }), false, []string{"minLength"}},
		{"min 14 with MFA", with(func(p *Policy) { p.MinLength = 14 }), true, nil},
		{"min 8 with MFA", with(func(p *Policy) { p.MinLength = 8 }), true, nil},
		{"min 8 without MFA", with(func(p *Policy) { p.MinLength = 8 }), false, []string{"minLength"}},
		{"min 7 with MFA", with(func(p *Policy) { p.MinLength = 7 }), true, []string{"minLength"}},
		{"max 64", with(func(p *Policy) { p.MaxLength = 64 }), false, nil},
		{"max 63", with(func(p *Policy) { p.MaxLength = 63 }), false, []string{"maxLength"}},
		{"max 4096", with(func(p *Policy) { p.MaxLength = 4096 }), false, nil},
		{"max 4097", with(func(p *Policy) { p.MaxLength = 4097 }), false, []string{"maxLength"}},
		{"max below min", with(func(p *Policy) { p.MinLength = 100; p.MaxLength = 99 }), false, []string{"maxLength"}},
		{"max equals min", with(func(p *Policy) { p.MinLength = 100; p.MaxLength = 100 }), false, nil},
		{"negative lower", with(func(p *Policy) { p.MinLower = -1 }), false, []string{"minLower"}},
		{"negative upper", with(func(p *Policy) { p.MinUpper = -1 }), false, []string{"minUpper"}},
		{"negative digits", with(func(p *Policy) { p.MinDigits = -1 }), false, []string{"minDigits"}},
		{"negative symbols", with(func(p *Policy) { p.MinSymbols = -1 }), false, []string{"minSymbols"}},
		{"classes fill min", with(func(p *Policy) { p.MinLower, p.MinUpper, p.MinDigits, p.MinSymbols = 4, 4, 4, 3 }), false, nil},
		{"classes exceed min", with(func(p *Policy) { p.MinLower, p.MinUpper, p.MinDigits, p.MinSymbols = 4, 4, 4, 4 }), false, []string{"add up to 16"}},
		{
			"everything wrong",
			Policy{MinLength: 7, MaxLength: 63, MinUpper: -2, MinSymbols: 10},
			true,
			[]string{"minLength", "maxLength", "minUpper", "add up to 8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate(tt.mfa)
			if len(tt.wantIn) == 0 {
				if err != nil {
					t.Errorf("%+v.Validate(%t) = %v, want nil", tt.p, tt.mfa, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%+v.Validate(%t) = nil, want an error naming %q", tt.p, tt.mfa, tt.wantIn)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%+v.Validate(%t) = %v, want it to name %q", tt.p, tt.mfa, err, s)
				}
			}
		})
	}
}

func TestPolicyErrorError(t *testing.T) {
	tests := []struct {
		e    *PolicyError
		want string
	}{
		{
			&PolicyError{Violations: []Violation{
				{RuleMinLength, "must be at least 15 characters (got 8)"},
				{RuleBlocklist, "is a commonly used password"},
			}},
			"password does not meet the policy: minLength: must be at least 15 characters (got 8); blocklist: is a commonly used password",
		},
		{
			&PolicyError{Violations: []Violation{{RuleContainsUserName, "must not contain the userName"}}},
			"password does not meet the policy: containsUserName: must not contain the userName",
		},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e.Violations, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	def := DefaultPolicy()
	with := func(f func(*Policy)) Policy {
		p := DefaultPolicy()
		f(&p)
		return p
	}
	mfa8 := with(func(p *Policy) { p.MinLength = 8 })
	classes := with(func(p *Policy) { p.MinLower, p.MinUpper, p.MinDigits, p.MinSymbols = 1, 2, 2, 1 })
	ctx := Context{Email: "Johnathan.Doe@example.com", UserName: "jdoe2024", TenantName: "Acme Widgets"}
	tests := []struct {
		name     string
		p        Policy
		pw       string
		c        Context
		want     []string // rules broken, in order
		wantText string   // a fragment of the error, if checked
	}{
		{"good passphrase", def, "violet tractor on the moon", ctx, nil, ""},
		{"exactly min", def, "mossy-tin-lamp7", ctx, nil, ""},
		{"too short", def, "mossy-tin-lamp", ctx, []string{RuleMinLength}, "at least 15 characters (got 14)"},
		{"empty", def, "", ctx, []string{RuleMinLength}, "(got 0)"},
		{"exactly max", def, strings.Repeat("mossy tin lamp ", 8) + "zzzzzzzz", ctx, nil, ""},
		{"too long", def, strings.Repeat("mossy tin lamp ", 8) + "zzzzzzzzz", ctx, []string{RuleMaxLength}, "at most 128 characters (got 129)"},
		// Over four bytes per allowed character is refused before NFKC,
		// so the count is in bytes, and nothing else is checked.
		{"over raw bound", def, strings.Repeat("a", 4*128+1), ctx, []string{RuleMaxLength}, "(got 513 bytes)"},
		{"huge", def, strings.Repeat("jdoe2024 password ", 1<<16), ctx, []string{RuleMaxLength}, "(got 1179648 bytes)"},
		// 4-byte runes within the raw bound are counted after NFKC.
		{"emoji at raw bound", def, strings.Repeat("🐟", 128), ctx, nil, ""},
		{"emoji over raw bound", with(func(p *Policy) { p.MaxLength = 64 }), strings.Repeat("🐟", 65), ctx, []string{RuleMaxLength}, "(got 260 bytes)"},

		// NFKC: the ligature "ﬁ" is two characters, "e" with a combining
		// accent is one.
		{"ligatures reach min", def, strings.Repeat("ﬁ", 7) + "x", ctx, nil, ""},
		{"ligatures short", def, strings.Repeat("ﬁ", 7), ctx, []string{RuleMinLength}, "(got 14)"},
		{"combining reach min", def, strings.Repeat("e\u0301", 15), ctx, nil, ""},
		{"combining short", def, strings.Repeat("e\u0301", 14), ctx, []string{RuleMinLength}, "(got 14)"},
		{"combining at max", with(func(p *Policy) { p.MaxLength = 64 }), strings.Repeat("e\u0301", 64), ctx, nil, ""},
		{"combining over max", with(func(p *Policy) { p.MaxLength = 64 }), strings.Repeat("e\u0301", 65), ctx, []string{RuleMaxLength}, "(got 65)"},

		{"classes met", classes, "Violet Tractor 42 moon", ctx, nil, ""},
		{"classes unmet", classes, "violet tractor on the Moon", ctx, []string{RuleCharacterClasses}, "2 upper-case letters (got 1), 2 digits (got 0)"},
		{"no symbol", classes, "VioletTractor42moon", ctx, []string{RuleCharacterClasses}, "1 symbol (got 0)"},
		{"classes off by default", def, "violettractoronthemoon", ctx, nil, ""},

		{"blocklisted", mfa8, "sunshine", ctx, []string{RuleBlocklist}, "commonly used"},
		{"blocklisted any case", mfa8, "ILoveYou", ctx, []string{RuleBlocklist}, ""},
		{"blocklisted long", def, "1qaz2wsx3edc4rfv", ctx, []string{RuleBlocklist}, ""},
		{"blocklisted full-width", mfa8, "ｑｗｅｒｔｙ１２３", ctx, []string{RuleBlocklist}, ""},
		{"blocklist off", with(func(p *Policy) { p.MinLength = 8; p.Blocklist = false }), "sunshine", ctx, nil, ""},

		{"email local part", def, "i am JOHNATHAN.DOE, hello", ctx, []string{RuleContainsEmail}, "email"},
		{"email domain is fine", def, "mail me at example.com please", ctx, nil, ""},
		{"email without @", def, "is jdoe-at-home ok?", Context{Email: "jdoe-at-home"}, []string{RuleContainsEmail}, ""},
		{"userName", def, "i am JDoe2024 and like tea", ctx, []string{RuleContainsUserName}, "userName"},
		{"tenant name", def, "acme widgets rule the world", ctx, []string{RuleContainsTenantName}, "tenant"},
		{"tenant name full-width", def, "contoso-is-my-favourite", Context{TenantName: "Ｃｏｎｔｏｓｏ"}, []string{RuleContainsTenantName}, ""},
		{"context off", with(func(p *Policy) { p.ContextCheck = false }), "i am jdoe2024 and like tea", ctx, nil, ""},
		{
			"short context ignored", def, "albert bobbing ibm horses",
			Context{Email: "al@example.com", UserName: "bob", TenantName: " IBM "}, nil, "",
		},
		{"empty context", def, "violet tractor on the moon", Context{}, nil, ""},

		{
			"all at once",
			with(func(p *Policy) { p.MinUpper = 1 }),
			"qwerty123",
			Context{Email: "qwerty@example.com", UserName: "Qwerty123", TenantName: "QWERTY"},
			[]string{RuleMinLength, RuleCharacterClasses, RuleBlocklist, RuleContainsEmail, RuleContainsUserName, RuleContainsTenantName},
			"",
		},
		{
			"too long and contains context",
			with(func(p *Policy) { p.MaxLength = 64 }),
			strings.Repeat("jdoe2024", 9),
			ctx,
			[]string{RuleMaxLength, RuleContainsUserName},
			"(got 72)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.pw, tt.c)
			if tt.want == nil {
				if err != nil {
					t.Errorf("Check(%q) = %v, want nil", tt.pw, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v, want a *PolicyError", tt.pw, err)
			}
			var got []string
			for _, v := range pe.Violations {
				got = append(got, v.Rule)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check(%q) rules = %q, want %q", tt.pw, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Check(%q) = %q, want it to contain %q", tt.pw, err, tt.wantText)
			}
			for _, v := range pe.Violations {
				if len(tt.pw) >= 4 && strings.Contains(strings.ToLower(v.Message), strings.ToLower(tt.pw)) {
					t.Errorf("Check(%q) message %q, want one without the password", tt.pw, v.Message)
				}
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	p := DefaultPolicy()
	c := Context{Email: "johnathan.doe@example.com", UserName: "jdoe2024", TenantName: "Acme Widgets"}
	loadBlocklist() // measure checks, not the one-off load
	for b.Loop() {
		if err := p.Check("violet tractor on the moon", c); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheck: Check never panics, refuses with a *PolicyError naming at
// least one rule, and accepts only passwords within the length bounds.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"correct horse battery staple 42", "abc", "", "ｃｏｒｒｅｃｔ ｈｏｒｓｅ", "password1234567", "\u0000\u00ff\u2028"} {
		f.Add(s, "anita@example.com")
	}
	p := DefaultPolicy()
	f.Fuzz(func(t *testing.T, pw, email string) {
		err := p.Check(pw, Context{Email: email, UserName: email, TenantName: "Acme"})
		if err == nil {
			if n := utf8.RuneCountInString(norm.NFKC.String(pw)); n < p.MinLength || n > p.MaxLength {
				t.Fatalf("Check(%q) accepted %d characters, outside [%d, %d]", pw, n, p.MinLength, p.MaxLength)
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) || len(pe.Violations) == 0 {
			t.Fatalf("Check(%q) = %v, want a *PolicyError with violations", pw, err)
		}
	})
}
