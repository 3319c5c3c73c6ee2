package email

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// highlyRestrictive lists the sets of scripts that one domain label may
// mix, besides a single script, at the "Highly Restrictive" level of UTS
// #39 (Unicode Security Mechanisms, §5.2): Latin with Han and the Japanese
// kana, with Han and Bopomofo (Chinese), or with Han and Hangul (Korean).
// A label covered by one of them passes.
var highlyRestrictive = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScriptReason refuses an ASCII domain (as parse returns it) one of
// whose labels mixes scripts in a way highlyRestrictive does not allow: a
// Cyrillic "а" among Latin letters, as look-alike domains ("exаmple.com")
// are made. Each A-label is judged in its Unicode form; characters of the
// Common and Inherited scripts (digits, the hyphen, combining marks) count
// for none. Labels are judged one by one, so "пример.com" passes.
func mixedScriptReason(domain string) string {
	for label := range strings.SplitSeq(domain, ".") {
		if !isALabel(label) {
			continue // ASCII: Latin only
		}
		u, err := profile.ToUnicode(label)
		if err != nil {
			continue // parse validated every A-label
		}
		var scripts []string // in order of appearance
		var odd rune         // the first character of the second script
		for _, r := range u {
			sc := scriptOf(r)
			if sc == "" || slices.Contains(scripts, sc) {
				continue
			}
			if len(scripts) == 1 {
				odd = r
			}
			scripts = append(scripts, sc)
		}
		if len(scripts) <= 1 || covered(scripts) {
			continue
		}
		return fmt.Sprintf("the domain label %q (%s) mixes %s letters (%q, U+%04X, is %s): a label may use one script, "+
			"or Latin with Han and Japanese kana, Bopomofo or Hangul; mixed labels are how look-alike domains are made",
			u, label, joinAnd(scripts), odd, odd, scriptOf(odd))
	}
	return ""
}

// covered reports whether one set of highlyRestrictive holds every script
// of scripts.
func covered(scripts []string) bool {
	for _, set := range highlyRestrictive {
		all := true
		for _, sc := range scripts {
			all = all && slices.Contains(set, sc)
		}
		if all {
			return true
		}
	}
	return false
}

// scriptOf returns the name of r's script (the Unicode Script property as
// unicode.Scripts has it), "" for Common, Inherited and unassigned
// characters.
func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			if name == "Common" || name == "Inherited" {
				return ""
			}
			return name
		}
	}
	return ""
}

// joinAnd joins names as "A and B" or "A, B and C".
func joinAnd(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
