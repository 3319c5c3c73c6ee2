package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/cursor"
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
	a, err := cursorCodec(envWith(key))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cursorCodec(envWith(key))
	s, err := a.Encode("scope", cursor.Position{ID: "id-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.Decode("scope", s); err != nil || p.ID != "id-1" {
		t.Errorf("a cursor of one process with the shared key = %+v, %v on another", p, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := cursorCodec(envWith(bad)); err == nil || !strings.Contains(err.Error(), cursorKeyEnv) {
			t.Errorf("cursorCodec(%q) = %v, want an error naming %s", bad, err, cursorKeyEnv)
		}
	}
	if c, err := cursorCodec(envWith("")); err != nil || c == nil {
		t.Errorf("cursorCodec(unset) = %v, %v, want a random-key codec", c, err)
	}
}
