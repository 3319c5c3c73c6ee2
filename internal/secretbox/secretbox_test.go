package secretbox_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/secretbox"
)

func TestSealOpen(t *testing.T) {
	key, err := secretbox.ParseKey(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal("JBSWY3DPEHPK3PXP", "factor-1")
	if strings.Contains(sealed, "JBSWY3DPEHPK3PXP") || sealed == box.Seal("JBSWY3DPEHPK3PXP", "factor-1") {
		t.Fatalf("Seal = %q: shows the secret, or is not randomised", sealed)
	}
	if got, err := box.Open(sealed, "factor-1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "factor-2"); err != secretbox.ErrOpen {
		t.Fatalf("Open(another context) = %v, want ErrOpen", err)
	}
	other, _ := secretbox.New(make([]byte, secretbox.KeySize))
	if _, err := other.Open(sealed, "factor-1"); err != secretbox.ErrOpen {
		t.Fatalf("Open(another key) = %v, want ErrOpen", err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	if _, err := box.Open(string(tampered), "factor-1"); err != secretbox.ErrOpen {
		t.Fatalf("Open(altered) = %v, want ErrOpen", err)
	}
	for _, bad := range []string{"", "c2hvcnQ=", "not base64!"} {
		if _, err := secretbox.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) = nil error", bad)
		}
	}
}

// TestDerive: one secret key derives the same key for a purpose every time
// (every replica agrees), another key for another purpose, and another
// secret key derives another key.
func TestDerive(t *testing.T) {
	k1, _ := secretbox.ParseKey(secretbox.NewKey())
	k2, _ := secretbox.ParseKey(secretbox.NewKey())
	a, _ := secretbox.New(k1)
	again, _ := secretbox.New(k1)
	other, _ := secretbox.New(k2)
	cursor := a.Derive("cursor")
	if len(cursor) != secretbox.KeySize || !bytes.Equal(cursor, again.Derive("cursor")) {
		t.Fatalf("Derive(cursor) = %x and %x from one key, want the same %d bytes", cursor, again.Derive("cursor"), secretbox.KeySize)
	}
	if bytes.Equal(cursor, a.Derive("other")) || bytes.Equal(cursor, other.Derive("cursor")) || bytes.Equal(cursor, k1) {
		t.Fatal("Derive gave the same key for another purpose, another secret key, or the secret key itself")
	}
}

// TestCheck: the check is the same for one key, differs for another, and
// holds nothing of the key.
func TestCheck(t *testing.T) {
	box := func(s string) *secretbox.Box {
		key, err := secretbox.ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := secretbox.New(key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k1, k2 := secretbox.NewKey(), secretbox.NewKey()
	a, b := box(k1).Check(), box(k2).Check()
	if a != box(k1).Check() || !strings.HasPrefix(a, "v1:") {
		t.Errorf("Check() = %q, then %q; want one stable v1 value per key", a, box(k1).Check())
	}
	if a == b {
		t.Errorf("Check() of two keys = %q both, want them different", a)
	}
	if strings.Contains(a, strings.TrimRight(k1, "=")) {
		t.Errorf("Check() = %q holds the key", a)
	}
}
