package email

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"user+tag@domain.com", "user+tag@domain.com"},
		{"first.last@sub.example.co.uk", "first.last@sub.example.co.uk"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"user@münchen.de", "user@xn--mnchen-3ya.de"},
		{"user@MÜNCHEN.de", "user@xn--mnchen-3ya.de"},
		{"user@xn--mnchen-3ya.de", "user@xn--mnchen-3ya.de"},
		{"user@XN--MNCHEN-3YA.DE", "user@XN--MNCHEN-3YA.DE"},
		{"UPPER@EXAMPLE.COM", "UPPER@EXAMPLE.COM"},
		{"a@b.co", "a@b.co"},
		{"x@example.xn--p1ai", "x@example.xn--p1ai"},
		{"x@пример.рф", "x@xn--e1afmkfd.xn--p1ai"},
		{"x@例え。テスト", "x@xn--r8jz45g.xn--zckzah"}, // ideographic full stop
		{"x@straße.de", "x@xn--strae-oqa.de"},    // non-transitional: ß kept
		{"x@ｅｘａｍｐｌｅ.com", "x@example.com"},       // full-width maps to ASCII
		{"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
		{"1234@123.example.com", "1234@123.example.com"},
		{"a-b@a-b.c-d.example", "a-b@a-b.c-d.example"},
		{"user@ab--cd.example.com", "user@ab--cd.example.com"},
		{"x@☃.com", "x@xn--n3h.com"},                  // UTS #46 lookup accepts symbols
		{"x@mün\u00adchen.de", "x@xn--mnchen-3ya.de"}, // soft hyphen is ignored
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
		{"a@" + strings.Repeat("b", 63) + ".com", "a@" + strings.Repeat("b", 63) + ".com"},
		{address(254), address(254)},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "the address is empty"},
		{"user@localhost", "the domain needs at least two labels (e.g. example.com)"},
		{"user@domain", "the domain needs at least two labels (e.g. example.com)"},
		{`"quoted"@domain.com`, "the local part may not contain quotes"},
		{`"a@b"@domain.com`, "the local part may not contain quotes"},
		{"a@b@c.com", "more than one @"},
		{"userdomain.com", "missing @"},
		{"Anita <a@b.com>", "display names and angle brackets are not accepted; send only the address, e.g. user@example.com"},
		{"<a@b.com>", "display names and angle brackets are not accepted; send only the address, e.g. user@example.com"},
		{"a@[127.0.0.1]", "IP-address literals are not accepted; use a domain name"},
		{"a@[IPv6:::1]", "IP-address literals are not accepted; use a domain name"},
		{"a@127.0.0.1", `the top-level domain "1" must be alphabetic`},
		{"a@example.c0m", `the top-level domain "c0m" must be alphabetic`},
		{"a@b.c-m", `the top-level domain "c-m" must be alphabetic`},
		{".a@b.com", "the local part may not start with a dot"},
		{"a.@b.com", "the local part may not end with a dot"},
		{"a..b@c.com", "the local part may not contain two dots in a row"},
		{"@b.com", "the local part (before the @) is empty"},
		{"a@", "the domain (after the @) is empty"},
		{strings.Repeat("a", 65) + "@example.com", "the local part is 65 octets long; at most 64 are allowed"},
		{address(255), "the address is 255 octets long; at most 254 are allowed"},
		{"a@" + strings.Repeat("b", 64) + ".com", `the domain label "` + strings.Repeat("b", 64) + `" is 64 octets long; at most 63 are allowed`},
		{"a@-a.com", `the domain label "-a" may not start or end with a hyphen`},
		{"a@a-.com", `the domain label "a-" may not start or end with a hyphen`},
		{"a@-bad.münchen.de", `the domain label "-bad" may not start or end with a hyphen`},
		{"a@.b.com", "the domain may not start with a dot"},
		{"a@b.com.", "the domain may not end with a dot"},
		{"a@b..com", "the domain may not contain two dots in a row"},
		{"a@b_c.com", "the domain may not contain '_'; only letters, digits, hyphens and dots are allowed"},
		{" a@b.com", "the address may not start or end with whitespace"},
		{"a@b.com ", "the address may not start or end with whitespace"},
		{"a @b.com", "the address may not contain whitespace"},
		{"a@b.com\u00a0", "the address may not start or end with whitespace"},
		{"a\tb@c.com", "the address may not contain whitespace"},
		{"a\x00b@c.com", "the address may not contain control characters"},
		{"a@b.com (comment)", "comments in parentheses are not accepted; send only the address"},
		{"(comment)a@b.com", "comments in parentheses are not accepted; send only the address"},
		{"jörg@example.com", "the local part may contain only ASCII characters, not 'ö'"},
		{`a\b@c.com`, `the local part may not contain '\\'`},
		{"a,b@c.com", "the local part may not contain ','"},
		{"a@xn--zz.com", `the domain label "xn--zz" is not a valid IDN A-label`},
		{"a@xn--.com", `the domain label "xn--" may not start or end with a hyphen`},
		{"a@xn--ab-.com", `the domain label "xn--ab-" may not start or end with a hyphen`},
		{"a@xn--ab.com", `the domain label "xn--ab" is not a valid IDN A-label`},
		{"a@b.xn--zz", `the domain label "xn--zz" is not a valid IDN A-label`},
		{"a@münchen.xn--zz", `the domain "münchen.xn--zz" is not a valid internationalised domain name (invalid label "zz")`},
		{"a@ex\u200dample.de\u00e9", `the domain "ex\u200dample.deé" is not a valid internationalised domain name (invalid label "ex\u200dample")`},
		{"a@\u00ad", "the domain (after the @) is empty"},
		{"a@b.com\xff", "the address is not valid UTF-8"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %q, %v, want *Error %q", tt.in, got, err, tt.reason)
			continue
		}
		if e.Reason != tt.reason || e.Address != tt.in || got != "" {
			t.Errorf("Parse(%q) = %q, %q (address %q), want \"\", %q", tt.in, got, e.Reason, e.Address, tt.reason)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("a@b")
	const want = `invalid email address "a@b": the domain needs at least two labels (e.g. example.com)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(%q) = %v, want %v", "a@b", err, want)
	}
}

// address returns a valid address of exactly n octets (n >= 8).
func address(n int) string {
	local := strings.Repeat("l", 64)
	domain := ""
	for rest := n - len(local) - 1 - len(".com"); rest > 0; {
		label := min(rest, 63)
		if domain != "" {
			label = min(rest-1, 63)
			domain += "."
		}
		domain += strings.Repeat("d", label)
		rest = n - len(local) - 1 - len(".com") - len(domain)
	}
	return local + "@" + domain + ".com"
}

func TestAddressHelper(t *testing.T) {
	for _, n := range []int{254, 255} {
		if got := len(address(n)); got != n {
			t.Errorf("len(address(%d)) = %d, want %d", n, got, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"user+tag@domain.com", "user@münchen.de", "UPPER@EXAMPLE.COM", "a@b@c.com",
		`"quoted"@domain.com`, "a@[127.0.0.1]", "x@例え。テスト", "x@xn--mnchen-3ya.de",
		"a@b.c-m", "jörg@example.com", "x@пример.рф", "x@ｅｘａｍｐｌｅ.com", "x@مثال.إختبار",
		"x@straße.de", "x@XN--MNCHEN-3YA.münchen.de", address(254),
		"x@exаmple.com", "x@xn--exmple-4nf.com", "x@gοogle.com", "x@例え.jp", "x@한국カタ.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Errorf("Parse(%q) = %v, want *Error with a reason", s, err)
			}
			return
		}
		if len(got) > maxAddress {
			t.Errorf("Parse(%q) = %q, want at most %d octets", s, got, maxAddress)
		}
		for _, r := range got {
			if r >= utf8.RuneSelf {
				t.Errorf("Parse(%q) = %q, want ASCII", s, got)
				break
			}
		}
		if again, err := Parse(got); again != got || err != nil {
			t.Errorf("Parse(%q) = %q, %v, want %q, nil", got, again, err, got)
		}
	})
}

func TestKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"Anita@Example.COM", "anita@example.com"},
		{"anne@bücher.example", "ANNE@xn--bcher-kva.example"},
		{"not an address", "NOT AN ADDRESS"},
	} {
		if Key(c.a) != Key(c.b) {
			t.Errorf("Key(%q) = %q, Key(%q) = %q; want equal", c.a, Key(c.a), c.b, Key(c.b))
		}
	}
	if Key("a@example.com") == Key("b@example.com") {
		t.Errorf("different addresses share a key")
	}
}

// TestMixedScripts: a domain label that mixes scripts as UTS #39's Highly
// Restrictive level forbids is refused, whether sent in Unicode or as an
// A-label, with a reason naming the scripts and the odd letter; labels of
// one script, and Latin with Han and kana, Bopomofo or Hangul, pass.
func TestMixedScripts(t *testing.T) {
	refused := []struct{ in, reason string }{
		{"anita@exаmple.com", `the domain label "exаmple" (xn--exmple-4nf) mixes Latin and Cyrillic letters ('а', U+0430, is Cyrillic)`}, // Cyrillic а
		{"anita@xn--exmple-4nf.com", `mixes Latin and Cyrillic letters ('а', U+0430, is Cyrillic)`},                                      // the same, as an A-label
		{"pay@pаypal.com", `mixes Latin and Cyrillic letters ('а', U+0430, is Cyrillic)`},
		{"bill@microsоft.com", `mixes Latin and Cyrillic letters ('о', U+043E, is Cyrillic)`}, // Cyrillic о
		{"x@gοogle.com", `mixes Latin and Greek letters ('ο', U+03BF, is Greek)`},             // Greek omicron
		{"x@gօogle.com", `mixes Latin and Armenian letters ('օ', U+0585, is Armenian)`},       // Armenian oh
		{"x@ѕсоpe.com", `mixes Cyrillic and Latin letters ('p', U+0070, is Latin)`},           // Cyrillic ѕсо, Latin pe
		{"x@mail.exаmple.co.uk", `the domain label "exаmple"`},                                // any label
		{"x@한국カタ.com", `mixes Hangul and Katakana letters`},                                   // Korean with Japanese kana
		{"x@пример日本.com", `mixes Cyrillic and Han letters`},
	}
	for _, tt := range refused {
		_, err := Parse(tt.in)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, tt.reason) || !strings.Contains(e.Reason, "look-alike") {
			t.Errorf("Parse(%q) = %v, want a refusal containing %q", tt.in, err, tt.reason)
		}
	}
	accepted := []struct{ in, want string }{
		{"x@пример.рф", "x@xn--e1afmkfd.xn--p1ai"}, // Cyrillic
		{"x@пример.com", "x@xn--e1afmkfd.com"},     // labels are judged one by one
		{"x@例え.jp", "x@xn--r8jz45g.jp"},            // Han + Hiragana
		{"x@日本語テキスト.jp", "x@xn--nckya0bk5909dcvb2w6i.jp"},
		{"x@abc中文.com", "x@xn--abc-x68do18h.com"},               // Latin + Han
		{"x@ㄅㄆ中文.tw", "x@xn--5ekc305thxu.tw"},                   // Bopomofo + Han
		{"x@한국abc.kr", "x@xn--abc-lt8lk11n.kr"},                 // Hangul + Latin
		{"x@ελληνικά.gr", "x@xn--hxargifdar.gr"},                // Greek
		{"x@bücher.de", "x@xn--bcher-kva.de"},                   // Latin with a diacritic
		{"x@пример-2024.рф", "x@xn---2024-yweu6azakd.xn--p1ai"}, // digits and hyphens count for no script
		{"x@☃.com", "x@xn--n3h.com"},                            // a symbol (Common) alone
	}
	for _, tt := range accepted {
		if got, err := Parse(tt.in); err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
	// The key of an address refused for its scripts is still its
	// canonical form's, so that one stored before the rule is found.
	if Key("anita@exаmple.com") != Key("ANITA@xn--exmple-4nf.com") {
		t.Errorf("Key(anita@exаmple.com) = %q, Key(ANITA@xn--exmple-4nf.com) = %q; want equal", Key("anita@exаmple.com"), Key("ANITA@xn--exmple-4nf.com"))
	}
}
