package main

import (
	"strings"
	"testing"
)

// TestLookAlikeEmails: an email whose domain label mixes Latin with a
// Cyrillic "а" (exаmple.com) is refused by user create, user invite and
// import, with the reason; the single-script IDN domains пример.рф and
// 例え.jp are accepted.
func TestLookAlikeEmails(t *testing.T) {
	const why = "mixes Latin and Cyrillic letters ('а', U+0430, is Cyrillic)"
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		for _, cmd := range []string{"create", "invite"} {
			_, _, err := scimd(t, db, "user", cmd, "--tenant", id, "--email", "anita@exаmple.com")
			if err == nil || !strings.Contains(message(err), why) {
				t.Errorf("user %s --email anita@exаmple.com = %v, want a refusal that %s", cmd, err, why)
			}
		}
		file := writeFile(t, "users.csv", "email,name\n"+
			"bob@exаmple.com,Bob Berg\n"+ // line 2: Cyrillic а
			"carl@xn--exmple-4nf.com,Carl\n"+ // 3: the same as an A-label
			"dora@пример.рф,Dora\n"+ // 4
			"emil@例え.jp,Emil\n") // 5
		out, _, err := scimd(t, db, "import", "--tenant", id, file)
		if err == nil || !strings.Contains(out, "imported 2 of 4 rows, 2 refused") {
			t.Fatalf("import = %v, want 2 of 4 imported\n%s", err, out)
		}
		for _, want := range []string{"line 2: bob@exаmple.com: ", "line 3: carl@xn--exmple-4nf.com: "} {
			if !strings.Contains(out, want) || strings.Count(out, why) != 2 {
				t.Errorf("import output lacks %q with the reason:\n%s", want, out)
			}
		}
		for _, addr := range []string{"dora@xn--e1afmkfd.xn--p1ai", "emil@xn--r8jz45g.jp"} {
			if show := mustScimd(t, db, "user", "show", "--tenant", id, addr); !strings.Contains(show, addr) {
				t.Errorf("user show %s:\n%s", addr, show)
			}
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); strings.Count(list, "\n") != 3 {
			t.Errorf("users after the refusals:\n%s", list)
		}
	})
}
