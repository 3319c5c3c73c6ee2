package directory

import (
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// newTOTPKey returns a new TOTP key (RFC 6238: SHA-1, 6 digits, 30 s, the
// parameters every authenticator app reads) for the account, named with
// the tenant as issuer.
func newTOTPKey(issuer, account string) (*otp.Key, error) {
	if issuer == "" {
		issuer = "scimd"
	}
	return totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, SecretSize: 20})
}

// validTOTP reports whether code is the key's code now, or one step
// before or after (clocks drift).
func validTOTP(code, secret string, now time.Time) bool {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	ok, err := totp.ValidateCustom(code, secret, now.UTC(), totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return err == nil && ok
}
