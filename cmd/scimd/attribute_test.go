package main

import (
	"strings"
	"testing"
)

// TestAttributes defines custom attributes on the command line, sets them
// with --attr on create and invite and from CSV columns and JSON Lines on
// import, shows them, and removes one (refused without --force while
// users hold it), on both backends.
func TestAttributes(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		def := mustScimd(t, db, "attribute", "define", "--tenant", id, "badge", "--uniqueness", "server")
		if !strings.Contains(def, "badge") || !strings.Contains(def, "server") {
			t.Fatalf("attribute define badge:\n%s", def)
		}
		mustScimd(t, db, "attribute", "define", "--tenant", id, "level", "--type", "integer")
		mustScimd(t, db, "attribute", "define", "--tenant", id, "skills", "--multi-valued")
		mustScimd(t, db, "attribute", "define", "--tenant", id, "tier", "--canonical", "Gold", "--canonical", "Silver")
		if _, _, err := scimd(t, db, "attribute", "define", "--tenant", id, "Badge"); err == nil || !strings.Contains(message(err), "already defines custom attribute Badge") {
			t.Fatalf("define Badge again = %v", err)
		}
		list := mustScimd(t, db, "attribute", "list", "--tenant", id)
		if strings.Count(list, "\n") != 5 || !strings.Contains(list, "Gold,Silver") {
			t.Fatalf("attribute list:\n%s", list)
		}

		mustScimd(t, db, "user", "create", "--tenant", id, "--email", "anita@example.com",
			"--attr", "badge=B-17", "--attr", "level=3", "--attr", "skills=go", "--attr", "skills=sql", "--attr", "tier=gold")
		show := mustScimd(t, db, "user", "show", "--tenant", id, "anita@example.com")
		for _, want := range []string{`badge               "B-17"`, "level               3", `skills              ["go","sql"]`, `tier                "Gold"`} {
			if !strings.Contains(show, want) {
				t.Errorf("user show lacks %q:\n%s", want, show)
			}
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--attr", "badge=b-17"}, "a user with this badge already exists"},
			{[]string{"--attr", "level=three"}, "custom attribute level must be"},
			{[]string{"--attr", "shoe=44"}, "the tenant defines no custom attribute shoe"},
			{[]string{"--attr", "tier=Bronze"}, "must be one of Gold, Silver"},
			{[]string{"--attr", "novalue"}, "use name=value"},
		} {
			args := append([]string{"user", "invite", "--tenant", id, "--email", "bob@example.com"}, c.args...)
			if _, _, err := scimd(t, db, args...); err == nil || !strings.Contains(message(err), c.want) {
				t.Errorf("user invite %v = %v, want %q", c.args, err, c.want)
			}
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); strings.Count(list, "\n") != 2 {
			t.Fatalf("users after refused invites:\n%s", list)
		}

		csv := writeFile(t, "users.csv", "email,Badge,level,skills\n"+
			"bob@example.com,B-18,5,rust;go\n"+
			"carl@example.com,B-17,1,\n"+ // line 3: anita's badge
			"dora@example.com,B-19,x,\n") // line 4
		out, _, err := scimd(t, db, "import", "--tenant", id, "--dry-run", csv)
		if err == nil || !strings.Contains(out, "line 3: carl@example.com: a user with this badge already exists") {
			t.Fatalf("import --dry-run csv = %v\n%s", err, out)
		}
		out, _, err = scimd(t, db, "import", "--tenant", id, csv)
		if err == nil || !strings.Contains(out, "line 3: carl@example.com: a user with this badge already exists") ||
			!strings.Contains(out, "line 4: dora@example.com: custom attribute level must be") || !strings.Contains(out, "imported 1 of 3 rows") {
			t.Fatalf("import csv = %v\n%s", err, out)
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "bob@example.com"); !strings.Contains(show, `skills              ["rust","go"]`) {
			t.Errorf("bob from CSV:\n%s", show)
		}
		jsonl := writeFile(t, "users.jsonl", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"emil@example.com",`+
			`"urn:ietf:params:scim:schemas:extension:custom:2.0:User":{"badge":"B-20","level":9}}`+"\n")
		mustScimd(t, db, "import", "--tenant", id, jsonl)
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "emil@example.com"); !strings.Contains(show, "level               9") {
			t.Errorf("emil from JSON Lines:\n%s", show)
		}

		if _, _, err := scimd(t, db, "attribute", "remove", "--tenant", id, "level"); err == nil || !strings.Contains(message(err), "3 users hold a value of level") {
			t.Fatalf("attribute remove level = %v, want refused: 3 users hold it", err)
		}
		if out := mustScimd(t, db, "attribute", "remove", "--tenant", id, "level", "--force"); !strings.Contains(out, "values deleted from 3 users") {
			t.Fatalf("attribute remove --force:\n%s", out)
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "anita@example.com"); strings.Contains(show, "\nlevel ") {
			t.Errorf("anita still shows level:\n%s", show)
		}
		audit := mustScimd(t, db, "audit", "list", "--tenant", id, "--json")
		if d, r := strings.Count(audit, `"type":"tenant.attribute_defined"`), strings.Count(audit, `"type":"tenant.attribute_removed"`); d != 4 || r != 1 {
			t.Errorf("audit: %d attribute_defined and %d attribute_removed, want 4 and 1", d, r)
		}
	})
}
