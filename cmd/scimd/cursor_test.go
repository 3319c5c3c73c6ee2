package main

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/secretbox"
)

func TestCursorCodec(t *testing.T) {
	envWith := func(v string) *env {
		return &env{ctx: context.Background(), getenv: func(k string) string {
			if k == cursorKeyEnv {
				return v
			}
			return ""
		}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	a, err := cursorCodec(envWith(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cursorCodec(envWith(key), nil)
	s, err := a.Encode("scope", cursor.Position{ID: "id-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.Decode("scope", s); err != nil || p.ID != "id-1" {
		t.Errorf("a cursor of one process with the shared key = %+v, %v on another", p, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := cursorCodec(envWith(bad), nil); err == nil || !strings.Contains(err.Error(), cursorKeyEnv) {
			t.Errorf("cursorCodec(%q) = %v, want an error naming %s", bad, err, cursorKeyEnv)
		}
	}
	// Without SCIMD_CURSOR_KEY, processes with one secret key share
	// cursors, and a process with another key refuses them.
	secret, _ := secretbox.ParseKey(secretbox.NewKey())
	box1, _ := secretbox.New(secret)
	box2, _ := secretbox.New(secret)
	other, _ := secretbox.New(make([]byte, secretbox.KeySize))
	c1, err1 := cursorCodec(envWith(""), box1)
	c2, err2 := cursorCodec(envWith(""), box2)
	c3, err3 := cursorCodec(envWith(""), other)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	s, _ = c1.Encode("scope", cursor.Position{ID: "id-2"})
	if p, err := c2.Decode("scope", s); err != nil || p.ID != "id-2" {
		t.Errorf("a cursor of one process with the secret key = %+v, %v on another with the same key", p, err)
	}
	if _, err := c3.Decode("scope", s); err == nil {
		t.Error("a process with another secret key accepted the cursor")
	}
}
