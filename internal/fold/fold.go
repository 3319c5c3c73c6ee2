// Package fold computes the case- and compatibility-insensitive key under
// which scimd compares and enforces uniqueness of userName, email addresses
// and group displayName.
//
// The package imports no HTTP and no SQL.
package fold

import (
	"strings"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// folders holds full Unicode case folders. A cases.Caser keeps state between
// calls and may not be shared between goroutines, so each call to Key takes
// one from the pool and returns it when done.
var folders = sync.Pool{
	New: func() any {
		c := cases.Fold()
		return &c
	},
}

// Key returns the comparison key of s: s in Unicode NFKC, then fully case
// folded, then in NFKC again (folding can undo normalisation). Two names or
// addresses are the same when their keys are equal, so "ÄNNE" and "änne"
// collide, as do "ﬁle" and "FILE".
//
// Pure ASCII input takes a fast path: it is lower-cased byte by byte, and
// returned without allocating when it is already lower case.
func Key(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return keyUnicode(s)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// keyUnicode is Key for input that contains at least one non-ASCII byte.
// Invalid UTF-8 becomes U+FFFD first: the case folder skips the rest of a
// malformed sequence differently from the normaliser, which made the key
// of such input differ from the key of its key (found by FuzzKey).
func keyUnicode(s string) string {
	c := folders.Get().(*cases.Caser)
	defer folders.Put(c)
	return norm.NFKC.String(strings.Map(cherokeeUpper, c.String(norm.NFKC.String(strings.ToValidUTF8(s, "\uFFFD")))))
}

// cherokeeUpper repairs the Cherokee output of cases.Fold, which swaps the
// two cases (https://go.dev/issue/46101) instead of folding lower-case
// syllables to the upper-case ones as Unicode's CaseFolding.txt does. Applied
// after cases.Fold it maps every Cherokee syllable to upper case, so "Ꮩ" and
// "ꮩ" share a key, and leaves all other runes alone.
func cherokeeUpper(r rune) rune {
	switch {
	case 0xAB70 <= r && r <= 0xABBF: // Cherokee Supplement ꭰ-ꮿ → Ꭰ-Ꮿ
		return r - 0xAB70 + 0x13A0
	case 0x13F8 <= r && r <= 0x13FD: // ᏸ-ᏽ → Ᏸ-Ᏽ
		return r - 0x13F8 + 0x13F0
	}
	return r
}
