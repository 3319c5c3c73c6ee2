package directory

import (
	"errors"
	"testing"
)

// TestWrappedSentinelMessage checks that a sentinel wrap copies says its
// detail once, and that errors.Is still finds it.
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
	cause := errors.New("disk full")
	if got, want := wrap("directory.CreateUser", &Error{Kind: KindBusy, Detail: "try again", Err: cause}).Error(), "directory.CreateUser: try again: disk full"; got != want {
		t.Errorf("wrap(an error with a cause).Error() = %q, want %q", got, want)
	}
}
