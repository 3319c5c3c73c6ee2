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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scimd:", message(err))
		os.Exit(1)
	}
}

// message is what the operator reads of err: the detail of a rule the
// command broke ("a user with this email already exists"), or the whole
// chain of an internal error, which is theirs to diagnose.
func message(err error) string {
	if directory.KindOf(err) != directory.KindInternal {
		return directory.DetailOf(err)
	}
	return err.Error()
}
