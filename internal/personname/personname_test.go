package personname

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		full, given, family string
	}{
		{"", "", ""},
		{" \t\n ", "", ""},
		{"Cher", "Cher", ""},
		{"  Cher  ", "Cher", ""},
		{"Anita Singh", "Anita", "Singh"},
		{"  Anita \t  Singh \n", "Anita", "Singh"},
		{"Mary Ann Smith", "Mary Ann", "Smith"},
		{"Ludwig van Beethoven", "Ludwig", "van Beethoven"},
		{"Juan de la Cruz", "Juan", "de la Cruz"},
		{"Vincent van der Berg", "Vincent", "van der Berg"},
		{"Anna van den Broek", "Anna", "van den Broek"},
		{"Jan Ter Horst", "Jan", "Ter Horst"},
		{"Leonardo da Vinci", "Leonardo", "da Vinci"},
		{"Maria dos Santos", "Maria", "dos Santos"},
		{"Ahmad bin Ismail", "Ahmad", "bin Ismail"},
		{"Siti binti Abdullah", "Siti", "binti Abdullah"},
		{"Otto VON Bismarck", "Otto", "VON Bismarck"},
		{"Ursula Le Guin", "Ursula", "Le Guin"},
		{"Johann Wolfgang von Goethe", "Johann Wolfgang", "von Goethe"},
		{"De Niro", "De", "Niro"},
		{"Van Morrison", "Van", "Morrison"},
		{"Robert De Niro", "Robert", "De Niro"},
		{"Jean-Luc Picard", "Jean-Luc", "Picard"},
		{"Mary Smith-Jones", "Mary", "Smith-Jones"},
		{"Anita Singh Jr.", "Anita Singh", "Jr."}, // no suffix parsing
		{"John Van", "John", "Van"},               // the last word is always family name
		{"Maria de los Angeles Garcia", "Maria de los Angeles", "Garcia"},
		{"Zoë Ångström", "Zoë", "Ångström"},
	}
	for _, tt := range tests {
		given, family := Split(tt.full)
		if given != tt.given || family != tt.family {
			t.Errorf("Split(%q) = %q, %q, want %q, %q", tt.full, given, family, tt.given, tt.family)
		}
	}
}

// FuzzSplit: Split never loses or invents a word: the given and family
// names are the input's words, in order, and a non-blank name has a given
// name.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"Anita Singh", "Ludwig van Beethoven", "Juan de la Cruz", "Cher", "  ", "De Niro", "a van", "Mary  Ann\tSmith"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, full string) {
		given, family := Split(full)
		got := strings.Fields(given + " " + family)
		if want := strings.Fields(full); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("Split(%q) = %q, %q: the words %q, want %q", full, given, family, got, want)
		}
		if strings.TrimSpace(full) != "" && given == "" {
			t.Fatalf("Split(%q) has no given name", full)
		}
	})
}
