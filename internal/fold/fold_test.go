package fold

import (
	"sync"
	"testing"
)

func TestKey(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"anita", "anita"},
		{"Anita.Singh@Example.COM", "anita.singh@example.com"},
		{"ALL-CAPS_123", "all-caps_123"},
		{"ÄNNE", "änne"},
		{"änne", "änne"},
		{"A\u0308NNE", "änne"}, // decomposed umlaut composes under NFKC
		{"ﬁle", "file"},        // ligature decomposes under NFKC
		{"ＦＵＬＬ", "full"},       // full-width letters
		{"Straße", "strasse"},  // full folding expands ß
		{"STRASSE", "strasse"},
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"}, // final sigma folds to σ
		{"İstanbul", "i̇stanbul"},
		{"ISTANBUL", "istanbul"},
		{"ǅemal", "džemal"},
		{"Ⅻ", "xii"},    // Roman numeral is a compatibility character
		{"\u212A", "k"}, // Kelvin sign
		{"日本語", "日本語"},
		{"\u13D9", "\u13D9"}, // Cherokee folds to upper case
		{"\uABA9", "\u13D9"},
		{"\u13F0", "\u13F0"},
		{"\u13F8", "\u13F0"},
	}
	for _, tt := range tests {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKeyIdempotent(t *testing.T) {
	for _, in := range []string{"ÄNNE", "ﬁle", "Straße", "ΣΊΣΥΦΟΣ", "İstanbul", "ǅemal", "Ⅻ", "ᾼ"} {
		once := Key(in)
		if twice := Key(once); twice != once {
			t.Errorf("Key(%q) = %q, want %q", once, twice, once)
		}
	}
}

func TestKeyASCIILowerDoesNotAllocate(t *testing.T) {
	const in = "anita.singh@example.com"
	if n := testing.AllocsPerRun(100, func() { _ = Key(in) }); n != 0 {
		t.Errorf("Key(%q) allocates %v times, want 0", in, n)
	}
}

func TestKeyConcurrent(t *testing.T) {
	const in, want = "ÄNNE ﬁle", "änne file"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := Key(in); got != want {
					t.Errorf("Key(%q) = %q, want %q", in, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzKey checks that Key is idempotent and that the ASCII fast path agrees
// with the full normalise-fold-normalise path.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"", "anita", "ÄNNE", "ﬁle", "Straße", "İstanbul", "ᾼ", "Anita.Singh@Example.COM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if again := Key(k); again != k {
			t.Errorf("Key(%q) = %q, want %q", k, again, k)
		}
		if slow := keyUnicode(s); slow != k {
			t.Errorf("keyUnicode(%q) = %q, want %q", s, slow, k)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	benchmarks := []struct {
		name, in string
	}{
		{"ASCIILower", "anita.singh@example.com"},
		{"ASCIIUpper", "Anita.Singh@Example.COM"},
		{"Unicode", "Jörg.Müller@Straße.example"},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Key(bm.in)
			}
		})
	}
}
