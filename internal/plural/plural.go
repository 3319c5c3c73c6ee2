// Package plural writes a count with its noun in the right number ("1
// user", "2 users") for the messages people read: command output, console
// pages, error details. It imports nothing of scimd.
package plural

import "strconv"

// Count returns n and the noun: one when n is 1, else many.
// Count(1, "user", "users") is "1 user"; Count(0, "user", "users") "0 users".
func Count[N ~int | ~int64](n N, one, many string) string {
	noun := many
	if n == 1 {
		noun = one
	}
	return strconv.FormatInt(int64(n), 10) + " " + noun
}
