package cursor

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	c, err := New(bytes.Repeat([]byte{7}, 32), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 123000, time.UTC)
	for _, key := range []any{nil, "anna", int64(-5), true, now} {
		s, err := c.Encode("tenant\nUser\nfilter", Position{Key: key, ID: "id-1"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Decode("tenant\nUser\nfilter", s)
		if err != nil || p.ID != "id-1" {
			t.Fatalf("Decode(Encode(%v)) = %+v, %v", key, p, err)
		}
		if tm, ok := key.(time.Time); ok {
			if !tm.Equal(p.Key.(time.Time)) {
				t.Errorf("time key %v came back as %v", key, p.Key)
			}
		} else if p.Key != key {
			t.Errorf("key %#v came back as %#v", key, p.Key)
		}
		if _, err := c.Decode("other tenant\nUser\nfilter", s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(another scope) = %v, want ErrInvalid", err)
		}
		tampered := strings.Replace(s, s[:4], strings.ToUpper(s[:4]), 1)
		if s[:4] == strings.ToUpper(s[:4]) {
			tampered = "x" + s[1:]
		}
		if _, err := c.Decode("tenant\nUser\nfilter", tampered); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(tampered) = %v, want ErrInvalid", err)
		}
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32), time.Hour)
	s, _ := c.Encode("scope", Position{ID: "x"})
	if _, err := other.Decode("scope", s); !errors.Is(err, ErrInvalid) {
		t.Errorf("Decode with another key = %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"", ".", "abc", "abc.def", s + "x"} {
		if _, err := c.Decode("scope", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	c.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := c.Decode("scope", s); !errors.Is(err, ErrExpired) {
		t.Errorf("Decode(after the lifetime) = %v, want ErrExpired", err)
	}
	if _, err := New([]byte("short"), time.Hour); err == nil {
		t.Error("New(5-byte key) = nil error")
	}
}
