// Package personname splits a full display name into given and family name,
// for SCIM name.givenName and name.familyName when a client sends only a
// formatted or display name.
//
// The split is a heuristic for names written given name first. It does not
// parse titles or suffixes: "Anita Singh Jr." gives family name "Jr.". Names
// written family name first (as often in Chinese, Japanese, Korean or
// Hungarian) are split as if they were given name first.
//
// The package imports no HTTP and no SQL.
package personname

import "strings"

// particles are the lower-case name particles that belong to the family name
// that follows them, such as "van" in "Ludwig van Beethoven". Compound
// particles ("van der", "de la") are runs of single ones. Words that are also
// common given names or conjunctions ("ben", "abu", "y", "e") are left out.
var particles = map[string]bool{
	"af": true, "al": true, "av": true, "bin": true, "binti": true, "bint": true,
	"da": true, "das": true, "de": true, "dei": true, "degli": true, "del": true,
	"della": true, "dello": true, "den": true, "der": true, "des": true, "di": true,
	"do": true, "dos": true, "du": true, "el": true, "ibn": true, "la": true,
	"las": true, "le": true, "lo": true, "los": true, "te": true, "ten": true,
	"ter": true, "van": true, "vom": true, "von": true, "zu": true, "zum": true,
	"zur": true,
}

// Split splits a full display name into given and family name. "Anita Singh"
// → ("Anita", "Singh"); particles (van, von, de, da, del, della, der, di, du,
// la, le, bin, binti, al, el, ter, ten, van der, van den, de la, dos, das,
// ...) stay with the family name: "Ludwig van Beethoven" → ("Ludwig",
// "van Beethoven"), "Juan de la Cruz" → ("Juan", "de la Cruz").
//
// The first word is always the given name, even when it is a particle, so
// "De Niro" → ("De", "Niro"); a single word is a given name only ("Cher" →
// ("Cher", "")). All words between the first and the family name are given
// names: "Mary Ann Smith" → ("Mary Ann", "Smith"). Particles match in any
// letter case and keep their spelling. Words are separated by whitespace
// only, so hyphenated names stay intact; surrounding and repeated whitespace
// is collapsed, and an empty or blank name gives ("", "").
func Split(full string) (given, family string) {
	words := strings.Fields(full)
	switch len(words) {
	case 0:
		return "", ""
	case 1:
		return words[0], ""
	}
	start := len(words) - 1
	for start > 1 && particles[strings.ToLower(words[start-1])] {
		start--
	}
	return strings.Join(words[:start], " "), strings.Join(words[start:], " ")
}
