// Command scimd is the scimd server and its administration commands. main
// only wires the process to run; everything else is testable through run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/scimd/scimd/internal/directory"
)

func main() {
	ctx, stop := signal.NotifyContext(context.WithValue(context.Background(), ownsProcess{}, true), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scimd:", message(err))
		os.Exit(1)
	}
}

// ownsProcess marks the context of main's run: the command owns the
// process, so serve may tune what is process-wide (the collector). Tests
// that call run beside each other in one process leave it alone.
type ownsProcess struct{}

// message is what the operator reads of err: the detail of a rule the
// command broke ("a user with this email already exists"), or the whole
// chain of an internal error, which is theirs to diagnose.
func message(err error) string {
	if directory.KindOf(err) != directory.KindInternal {
		return directory.DetailOf(err)
	}
	return err.Error()
}
