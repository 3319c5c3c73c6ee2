// Package password holds scimd's password rules and password hashing: the
// per-tenant policy a new password must meet, the blocklist of common
// passwords shipped inside the binary, and argon2id hashing behind a bounded
// pool.
//
// # Policy
//
// Each tenant has a Policy; the defaults follow NIST SP 800-63B-4:
//
//   - Minimum length 15. A tenant that forces MFA on its users may lower it,
//     but never below 8. Length is counted in Unicode code points after NFKC
//     normalisation, so "ﬁ" counts as two characters and "e" followed by a
//     combining acute accent as one.
//   - Maximum length 128, and a tenant may not set it below 64 (nor above
//     4096). It is checked before the password is normalised or hashed: input
//     longer than four bytes per allowed character is refused unread.
//   - Character-class rules (at least so many lower-case letters, upper-case
//     letters, digits or symbols) exist for tenants that need them but are
//     all off by default, as NIST advises.
//   - The password may not be on the embedded blocklist of the 100,000 most
//     common and breached passwords (see BLOCKLIST.md), compared without
//     regard to case.
//   - The password may not contain the local part of the user's email
//     address, the userName or the tenant's name, again without regard to
//     case. Values shorter than four characters are not checked, so a short
//     name does not forbid every password that happens to contain it.
//
// Check reports every rule a password breaks, not just the first, and never
// repeats the password in its messages.
//
// # Hashing
//
// Passwords are stored as argon2id PHC strings with the OWASP parameters
// (19 MiB of memory, two passes, one lane). Each hash needs that much memory
// while it runs, so a Hasher runs at most a fixed number of hashes at once
// and lets at most a fixed number of callers wait for a turn. Its memory use
// is therefore bounded by slots × argon2 memory, and a burst of password
// changes either queues or is refused with ErrBusy (which the API answers
// with 503 and Retry-After) instead of exhausting memory. Passwords are NFKC
// normalised before hashing, as SP 800-63B-4 recommends.
//
// Nothing in this package logs a password or a hash.
//
// The package imports no HTTP and no SQL.
package password
