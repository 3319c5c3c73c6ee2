package directory

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestWrappedSentinelMessage checks that a sentinel wrap copies says its
// detail once, that errors.Is still finds it, and that a cause joined with
// it is kept.
func TestWrappedSentinelMessage(t *testing.T) {
	for _, sentinel := range []*Error{ErrNotFound, ErrVersionMismatch, ErrTenantChanged} {
		err := wrap("directory.CreateUser", sentinel)
		if want := "directory.CreateUser: " + sentinel.Detail; err.Error() != want {
			t.Errorf("wrap(%v).Error() = %q, want %q", sentinel, err.Error(), want)
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(wrap(%v), the sentinel) = false", sentinel)
		}
	}
	// A sentinel joined with the error that explains it keeps both.
	joined := wrap("directory.CompleteLink", errors.Join(ErrNotFound, io.ErrUnexpectedEOF))
	if !errors.Is(joined, ErrNotFound) || !errors.Is(joined, io.ErrUnexpectedEOF) || !strings.Contains(joined.Error(), "unexpected EOF") {
		t.Errorf("wrap(ErrNotFound joined with a cause) = %q, want both in its chain and its message", joined)
	}
	cause := errors.New("disk full")
	if got, want := wrap("directory.CreateUser", &Error{Kind: KindBusy, Detail: "try again", Err: cause}).Error(), "directory.CreateUser: try again: disk full"; got != want {
		t.Errorf("wrap(an error with a cause).Error() = %q, want %q", got, want)
	}
}
