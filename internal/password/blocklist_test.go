package password

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

// blocklistEntries is the number of entries BLOCKLIST.md promises.
const blocklistEntries = 100000

func TestBlocked(t *testing.T) {
	tests := []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"123456", true},
		{"qwerty123", true},
		{"PassWord", true},
		{"QWERTY123", true},
		{"ＰＡＳＳＷＯＲＤ", true}, // full-width letters, after NFKC
		{"iloveyou", true},
		{"1qaz2wsx3edc4rfv", true},
		{"neznam", true}, // the 100,000th entry
		{"", false},
		{"passwordz", false},
		{"ilovey0u", false},
		{"password ", false},
		{"correct horse battery staple", false},
		{"violet tractor on the moon", false},
		{"x7#Tq!vP0_zz", false},
	}
	for _, tt := range tests {
		if got := blocked(foldKey(tt.pw)); got != tt.want {
			t.Errorf("blocked(foldKey(%q)) = %t, want %t", tt.pw, got, tt.want)
		}
	}
}

// TestBlocklistComplete checks that every line of the embedded file is
// found, and that there are as many as BLOCKLIST.md says.
func TestBlocklistComplete(t *testing.T) {
	r, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		t.Fatalf("gzip.NewReader(blocklist) = %v", err)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("io.ReadAll(blocklist) = %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) != blocklistEntries {
		t.Errorf("blocklist.txt.gz has %d lines, want %d", len(lines), blocklistEntries)
	}
	if got := loadBlocklist().len(); got != blocklistEntries {
		t.Errorf("loadBlocklist().len() = %d, want %d", got, blocklistEntries)
	}
	for _, l := range lines {
		if l == "" || l != strings.ToLower(l) {
			t.Errorf("blocklist line %q, want non-empty and lower case", l)
		}
		if !blocked(foldKey(l)) {
			t.Errorf("blocked(foldKey(%q)) = false, want true", l)
		}
	}
}

func TestSortedList(t *testing.T) {
	l := newSortedList([]string{"pear", "apple", "fig", "apple", "figs", "", "zz"})
	if got := l.len(); got != 6 {
		t.Errorf("newSortedList(...).len() = %d, want 6", got)
	}
	tests := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"apple", true},
		{"fig", true},
		{"figs", true},
		{"pear", true},
		{"zz", true},
		{"a", false},
		{"appl", false},
		{"apples", false},
		{"fi", false},
		{"z", false},
		{"zzz", false},
	}
	for _, tt := range tests {
		if got := l.contains(tt.s); got != tt.want {
			t.Errorf("contains(%q) = %t, want %t", tt.s, got, tt.want)
		}
	}
}
