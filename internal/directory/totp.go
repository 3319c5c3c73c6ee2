package directory

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpPeriod is the TOTP time step (RFC 6238), in seconds.
const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPKey returns a new TOTP key (RFC 6238: SHA-1, 6 digits, 30 s, the
// parameters every authenticator app reads) for the account, named with
// the tenant as issuer: the key the invitation flow and sign-in enrol.
func NewTOTPKey(issuer, account string) (*otp.Key, error) {
	if issuer == "" {
		issuer = "scimd"
	}
	return totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, SecretSize: 20})
}

// TOTPStep returns the time step whose code code is, among the step of
// now and one before or after (clocks drift), or 0 when it is none.
// Spaces in code are ignored.
func TOTPStep(code, secret string, now time.Time) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0
	}
	step := now.Unix() / totpPeriod
	for _, st := range []int64{step, step - 1, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0).UTC(), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st
		}
	}
	return 0
}

// validTOTP reports whether code is the key's code now, or one step
// before or after.
func validTOTP(code, secret string, now time.Time) bool { return TOTPStep(code, secret, now) > 0 }
