package main

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the integrity check reads the database directly
)

// TestMain lets a test run this package's main as a child process
// (SCIMD_TEST_MAIN=1): the kill -9 tests need a process to kill.
func TestMain(m *testing.M) {
	if os.Getenv("SCIMD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child returns the command that runs scimd with args in a process of
// its own, on the database db.
func child(t *testing.T, db string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	env := []string{"SCIMD_TEST_MAIN=1", "SCIMD_DATABASE=" + db, "SCIMD_ACTOR=test-operator", "PATH=" + os.Getenv("PATH")}
	if strings.HasPrefix(db, "postgres") {
		env = append(env, "SCIMD_SECRET_KEY="+testSecretKey)
	}
	cmd.Env = env
	return cmd
}

// TestImportSurvivesKill kills an import of 10,000 users (SIGKILL, at
// random moments while it creates users) again and again, then checks the database after each:
// no user without its email rows, the audit count equal to the users,
// the hash chain intact, and a last run converging to exactly 10,000
// users. SCIMD_KILL_ROUNDS sets the rounds (default 3; the issue asks for
// 20: SCIMD_KILL_ROUNDS=20 go test ./cmd/scimd -run TestImportSurvivesKill).
func TestImportSurvivesKill(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("SCIMD_KILL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		var b strings.Builder
		b.WriteString("email,name\n")
		const users = 10000
		for i := range users {
			fmt.Fprintf(&b, "user%05d@example.com,User Number%d\n", i, i)
		}
		file := filepath.Join(t.TempDir(), "users.csv")
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		raw := openRaw(t, db)
		for round := 1; round <= rounds; round++ {
			have := rawCount(t, raw)
			cmd := child(t, db, "import", "--tenant", id, file)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// Kill while users are being created: the import first
			// refuses the rows earlier rounds stored, so wait until it
			// has made a new one, then kill within half a second. Once
			// every user is in, kill at a random moment of its first 2 s.
			phase := "after every user was in"
			if have < users {
				phase = "while it refused the rows stored before"
				if waitForMore(t, raw, have, exited, &out) {
					phase = "while it created users"
				}
				time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
			} else {
				time.Sleep(time.Duration(200+rand.IntN(1800)) * time.Millisecond)
			}
			t.Logf("round %d: killed %s", round, phase)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			checkIntegrity(t, db, raw, id, round)
		}
		out, err := child(t, db, "import", "--tenant", id, file).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("the last import: %v\n%s", err, out)
		}
		if n := countUsers(t, db, id); n != users {
			t.Fatalf("%d users after the last import, want %d", n, users)
		}
		checkIntegrity(t, db, raw, id, rounds+1)
	})
}

// openRaw opens the test's database directly, not through scimd, for
// what no command shows cheaply.
func openRaw(t *testing.T, db string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", db
	if path, ok := strings.CutPrefix(db, "sqlite://"); ok {
		driver, dsn = "sqlite", path
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawCount counts the users in the database (the test's one tenant).
func rawCount(t *testing.T, conn *sql.DB) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitForMore waits until the database holds more than have users, and
// reports whether it does: the import first refuses the rows stored
// before (in about a second), so after 20 s it gives up waiting. It fails
// the test if the import exits with an error before making a user.
func waitForMore(t *testing.T, conn *sql.DB, have int, exited chan error, out *syncBuffer) bool {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); rawCount(t, conn) <= have; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err // for the caller's wait
			if rawCount(t, conn) > have {
				return true
			}
			t.Fatalf("the import exited (%v) without making a user beyond %d:\n%s", err, have, out.String())
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// checkIntegrity checks what a kill must never leave behind.
func checkIntegrity(t *testing.T, db string, raw *sql.DB, tenantID string, round int) {
	t.Helper()
	if strings.HasPrefix(db, "sqlite") {
		conn, err := sql.Open("sqlite", strings.TrimPrefix(db, "sqlite://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var ok string
		if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, ok, err)
		}
		var orphans int
		if err := conn.QueryRow(`SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id)`).Scan(&orphans); err != nil || orphans != 0 {
			t.Fatalf("round %d: %d users without their email rows (%v)", round, orphans, err)
		}
	}
	// One statement, so one snapshot: on PostgreSQL the killed process's
	// last transaction may still commit after the kill (its COMMIT was
	// sent), and two counts read apart could straddle it.
	var users, created int
	if err := raw.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM audit_events WHERE type = 'user.created')`).Scan(&users, &created); err != nil {
		t.Fatal(err)
	}
	if created != users {
		t.Fatalf("round %d: %d user.created events for %d users", round, created, users)
	}
	mustScimd(t, db, "audit", "verify", "--tenant", tenantID)
	t.Logf("round %d: %d users, audit and chain intact", round, users)
}

func countUsers(t *testing.T, db, tenantID string) int {
	t.Helper()
	out := mustScimd(t, db, "user", "list", "--tenant", tenantID)
	return strings.Count(out, "\n") - 1 // the header
}
