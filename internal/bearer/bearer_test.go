package bearer

import "testing"

func TestToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer scimd_abc":    "scimd_abc",
		"bearer  scimd_abc  ": "scimd_abc", // the scheme in any case (RFC 9110 §11.1)
		"Basic dXNlcjpwYXNz":  "",
		"Bearer":              "",
		"Bearer    ":          "",
		"":                    "",
	} {
		got, ok := token(header)
		if got != want || ok != (want != "") {
			t.Errorf("token(%q) = %q, %t; want %q", header, got, ok, want)
		}
	}
}
