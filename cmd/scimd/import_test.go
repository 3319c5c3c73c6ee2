package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimd/scimd/store/storetest"
)

// eachDB runs fn on a new SQLite database and on a new PostgreSQL schema
// (skipped without SCIMD_TEST_POSTGRES_URL).
func eachDB(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, tempDB(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.PostgresURL(t)) })
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportDryRunMigratesNothing: a dry run on a database that needs
// migrating is refused and leaves the schema as it was (on a missing
// SQLite file, it creates neither the file nor its key file); once
// migrated, the dry run runs.
func TestImportDryRunMigratesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		file := writeFile(t, "users.csv", "email,name\nanita@example.com,Anita Singh\n")
		out, _, err := scimd(t, db, "import", "--tenant", "none", "--dry-run", file)
		if err == nil || !strings.Contains(message(err), "run scimd migrate first") {
			t.Fatalf("import --dry-run on a database never migrated = %v, want it refused\n%s", err, out)
		}
		if file, ok := strings.CutPrefix(db, "sqlite://"); ok {
			for _, f := range []string{file, file + ".key"} {
				if _, err := os.Stat(f); err == nil {
					t.Fatalf("the dry run on a missing SQLite file made %s", f)
				}
			}
		}
		if _, err := openRaw(t, db).Exec(`SELECT 1 FROM tenants`); err == nil {
			t.Fatal("the dry run created the tenants table: it migrated the database")
		}
		mustScimd(t, db, "migrate")
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		if out := mustScimd(t, db, "import", "--tenant", id, "--dry-run", file); !strings.Contains(out, "dry run: 1 of 1 row would be imported") {
			t.Fatalf("import --dry-run once migrated:\n%s", out)
		}
	})
}

// TestImportCSV imports a CSV file with good and bad rows: the good ones
// become users (in their groups, with their flags, invited without a
// password under --invite), each bad one is reported with its line and
// the seed's reason; a dry run writes nothing; running the file again
// creates nobody twice.
func TestImportCSV(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "group", "create", "--tenant", id, "--name", "Engineering")
		file := writeFile(t, "users.csv", "email,name,password,groups,emailVerified,mustReset,forceMfa\n"+
			"anita@example.com,Anita Singh,correct horse battery staple 42,Engineering,true,true,false\n"+ // line 2
			"bob@example.com,Bob Berg,,,,,\n"+ // 3: invited under --invite
			"not-an-email,Nobody,,,,,\n"+ // 4
			"weak@example.com,Weak,abc,,,,\n"+ // 5
			"carl@example.com,Carl,,Sales,,,\n"+ // 6: no such group
			"ANITA@example.com,Twice,,,,,\n"+ // 7: the same email as line 2
			"dora@example.com,Dora,,,maybe,,\n"+ // 8
			"\"emil@example.com\",\"Emil, Jr.\",,,,,\n"+ // 9
			"fay@example.com,Fay,Secret-Horse-Battery-42,,,,,extra\n") // 10: a field too many
		out, _, err := scimd(t, db, "import", "--tenant", id, "--dry-run", file)
		if err == nil || !strings.Contains(out, "dry run: 3 of 9 rows would be imported, 6 refused; nothing was written") {
			t.Fatalf("import --dry-run = %v\n%s", err, out)
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); strings.Count(list, "\n") != 1 {
			t.Fatalf("users after a dry run:\n%s", list)
		}

		out, _, err = scimd(t, db, "import", "--tenant", id, "--invite", file)
		if err == nil || message(err) != "6 rows refused (listed above)" {
			t.Fatalf("import = %v, want 6 rows refused\n%s", err, out)
		}
		for _, want := range []string{
			"line 4: not-an-email: ", "line 5: weak@example.com: ", "line 6: carl@example.com: group not found: Sales",
			"line 7: ANITA@example.com: a user with this email already exists", "line 8: dora@example.com: emailverified must be true or false",
			"line 10: fay@example.com: the row has 8 fields, the header 7", "imported 3 of 9 rows, 6 refused",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("import output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "Secret-Horse") {
			t.Errorf("the report shows a password:\n%s", out)
		}
		show := mustScimd(t, db, "user", "show", "--tenant", id, "anita@example.com")
		for _, want := range []string{"hasPassword         true", "emailVerified       true", "passwordMustReset   true", "groups              Engineering", "givenName           Anita"} {
			if !strings.Contains(show, want) {
				t.Errorf("user show anita lacks %q:\n%s", want, show)
			}
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "bob@example.com"); !strings.Contains(show, "status              invited") {
			t.Errorf("bob without a password under --invite:\n%s", show)
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "emil@example.com"); !strings.Contains(show, "Emil, Jr.") {
			t.Errorf("a quoted name with a comma:\n%s", show)
		}

		// Again: every row refused, nobody created twice.
		out, _, _ = scimd(t, db, "import", "--tenant", id, "--invite", file)
		if !strings.Contains(out, "imported 0 of 9 rows, 9 refused") || !strings.Contains(out, "line 2: anita@example.com: a user with this email already exists") {
			t.Errorf("import again:\n%s", out)
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); strings.Count(list, "\n") != 4 {
			t.Errorf("users after two imports:\n%s", list)
		}
		audit := mustScimd(t, db, "audit", "list", "--tenant", id, "--json")
		if created, invited := strings.Count(audit, `"type":"user.created"`), strings.Count(audit, `"type":"user.invited"`); created != 1 || invited != 2 {
			t.Errorf("audit: %d user.created and %d user.invited, want 1 (anita) and 2 (bob, emil)", created, invited)
		}
	})
}

// TestImportRefusesBadFiles refuses a header with an unknown column or no
// email, and writes nothing.
func TestImportRefusesBadFiles(t *testing.T) {
	db := tempDB(t)
	id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	for header, want := range map[string]string{
		"email,shoeSize\na@example.com,42\n": `unknown column "shoeSize"`,
		"name\nAnita\n":                      "no email column",
	} {
		_, _, err := scimd(t, db, "import", "--tenant", id, writeFile(t, "bad.csv", header))
		if err == nil || !strings.Contains(message(err), want) {
			t.Errorf("import of %q = %v, want %q", header, err, want)
		}
	}
	if list := mustScimd(t, db, "user", "list", "--tenant", id); strings.Count(list, "\n") != 1 {
		t.Errorf("users after refused files:\n%s", list)
	}
}

// TestImportJSONLines imports SCIM user documents, one a line, read as
// POST /Users reads them.
func TestImportJSONLines(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		file := writeFile(t, "users.jsonl",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ola@example.com","name":{"givenName":"Ola","familyName":"Nordmann"},"active":"True"}`+"\n"+
				"\n"+
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pia@example.com","shoeSize":42}`+"\n"+
				`{"userName":`+"\n"+
				`{"userName":"huge@example.com","title":"`+strings.Repeat("x", 1<<20)+`"}`+"\n"+
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"quinn@example.com"}`)
		out, _, err := scimd(t, db, "import", "--tenant", id, file)
		for _, want := range []string{"imported 2 of 5 rows, 3 refused", `line 3: pia@example.com: unknown attribute "shoeSize"`, "line 4: ", "line 5: : the line is longer than 1048576 bytes"} {
			if err == nil || !strings.Contains(out, want) {
				t.Fatalf("import = %v, want %q in\n%.2000s", err, want, out)
			}
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "ola@example.com"); !strings.Contains(show, "familyName          Nordmann") {
			t.Errorf("imported ola:\n%s", show)
		}
	})
}
