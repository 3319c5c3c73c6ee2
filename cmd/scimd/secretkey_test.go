package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/mail/mailtest"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store/storetest"
)

// otherSecretKey is a key that is not testSecretKey: a command line
// configured apart from the server.
const otherSecretKey = "q7GgdcQ3QaHk8e3kT0mH1wQ2yZ2x6Xw0oYtJ1c9m0xI="

// scimdWithKey runs one command with SCIMD_SECRET_KEY set to key ("":
// unset, whatever the backend).
func scimdWithKey(t *testing.T, db, key string, args ...string) (string, string, error) {
	t.Helper()
	return scimdEnv(t, db, map[string]string{"SCIMD_SECRET_KEY": key}, args...)
}

// scimdEnv runs one command with the test environment and the variables
// of env over it, for 20 s at most (a serve that starts is stopped then).
func scimdEnv(t *testing.T, db string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := testEnv(db)
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return base(k)
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, getenv, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// userCount counts the users of the database, behind scimd's back.
func userCount(t *testing.T, db string) int {
	t.Helper()
	return rawCount(t, openRaw(t, db))
}

// TestPostgresNeedsSecretKey: on PostgreSQL without a secret key, serve and
// the commands that seal secrets refuse to run, saying how to make a key,
// and write nothing; the commands that seal nothing run.
func TestPostgresNeedsSecretKey(t *testing.T) {
	db := storetest.PostgresURL(t)
	id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	if out, errOut, err := scimdWithKey(t, db, "", "tenant", "list"); err != nil || !strings.Contains(out, id) {
		t.Fatalf("tenant list without a key = %v (stderr %s), want it to run: it seals nothing", err, errOut)
	}
	file := writeFile(t, "users.csv", "email,name\nbob@example.com,Bob Berg\n")
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0"},
		{"user", "invite", "--tenant", id, "--email", "anita@example.com"},
		{"user", "invite", "--tenant", id, "--email", "anita@example.com", "--resend"},
		{"import", "--tenant", id, "--invite", file},
	} {
		command := strings.Join(args[:min(2, len(args))], " ")
		if args[0] == "serve" || args[0] == "import" {
			command = args[0]
		}
		out, _, err := scimdWithKey(t, db, "", args...)
		if err == nil || !strings.HasPrefix(message(err), command+" needs the secret key") ||
			!strings.Contains(message(err), "SCIMD_SECRET_KEY") || !strings.Contains(message(err), "head -c 32 /dev/urandom | base64") {
			t.Errorf("scimd %s without a key = %v (stdout %s), want it refused saying how to make a key", strings.Join(args, " "), err, out)
		}
	}
	if n := userCount(t, db); n != 0 {
		t.Errorf("the refused commands left %d users, want none", n)
	}
	// With the key, the same invite runs.
	mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com")
}

// TestWrongSecretKey: the first process with a key stores its check; a
// command or a server with another key is refused, with nothing written
// and no key in the message; the right key keeps working.
func TestWrongSecretKey(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme")) // the first use: its key's check is stored
		for _, args := range [][]string{
			{"user", "invite", "--tenant", id, "--email", "anita@example.com"},
			{"user", "create", "--tenant", id, "--email", "bob@example.com"},
			{"serve", "--listen", "127.0.0.1:0"},
		} {
			_, _, err := scimdWithKey(t, db, otherSecretKey, args...)
			if err == nil || !strings.Contains(message(err), "is not the key this database was first used with") ||
				!strings.Contains(message(err), "SCIMD_SECRET_KEY") {
				t.Fatalf("scimd %s with another key = %v, want it refused", strings.Join(args, " "), err)
			}
			for _, key := range []string{otherSecretKey, strings.TrimRight(otherSecretKey, "="), testSecretKey} {
				if strings.Contains(message(err), key) {
					t.Errorf("the refusal %q holds a key", message(err))
				}
			}
		}
		if n := userCount(t, db); n != 0 {
			t.Errorf("the refused commands left %d users, want none", n)
		}
		mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com")
	})
}

// TestSQLiteNewKeyFile: with SQLite, a key file lost while the database
// holds nothing sealed is made again, as before the key check, and the
// check follows the new key.
func TestSQLiteNewKeyFile(t *testing.T) {
	db := tempDB(t)
	id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	file := strings.TrimPrefix(db, "sqlite://") + ".key"
	old, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	mustScimd(t, db, "tenant", "list")
	if now, err := os.ReadFile(file); err != nil || bytes.Equal(now, old) {
		t.Fatalf("key file after it was lost: %v, same as before %t; want a new key", err, bytes.Equal(now, old))
	}
	mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com")
	if _, _, err := scimdWithKey(t, db, strings.TrimSpace(string(old)), "user", "invite", "--tenant", id, "--email", "bob@example.com"); err == nil {
		t.Errorf("user invite with the lost key succeeded, want it refused: the check follows the new key")
	}
}

// TestUnopenedOutboxMessage: a message of the outbox sealed under another
// key (by a process the key check did not stop, such as one of an older
// version) is given up at its first attempt, logged without secrets and
// counted on /metrics, rather than retried for days in silence.
func TestUnopenedOutboxMessage(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com")
		raw := openRaw(t, db)
		var mailID string
		if err := raw.QueryRow(`SELECT id FROM outbox`).Scan(&mailID); err != nil {
			t.Fatal(err)
		}
		key, _ := secretbox.ParseKey(otherSecretKey)
		other, err := secretbox.New(key)
		if err != nil {
			t.Fatal(err)
		}
		const linkSecret = "link-secret-sealed-with-another-key"
		if _, err := raw.Exec(fmt.Sprintf(`UPDATE outbox SET secret = '%s' WHERE id = '%s'`, other.Seal(linkSecret, mailID), mailID)); err != nil {
			t.Fatal(err)
		}

		smtpd := mailtest.Start(t, 0)
		srv := startServer(t, db, "--smtp-host", smtpd.Host, "--smtp-port", strconv.Itoa(smtpd.Port), "--smtp-security", "none",
			"--mail-from", "Acme accounts <accounts@example.com>")
		for i := 0; ; i++ {
			_, body := srv.do(t, http.MethodGet, "/metrics", "", "")
			if strings.Contains(string(body), `scimd_outbox_deliveries_total{outcome="unopened"} 1`) {
				break
			}
			if i == 250 {
				t.Fatalf("/metrics does not count the unopened message:\n%s", body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var secret, lastError string
		var attempts int
		if err := raw.QueryRow(`SELECT secret, last_error, attempts FROM outbox WHERE id = '`+mailID+`'`).Scan(&secret, &lastError, &attempts); err != nil {
			t.Fatal(err)
		}
		if secret != "" || !strings.Contains(lastError, "does not open with this server's secret key") || attempts != 1 {
			t.Errorf("the outbox row: secret %q, last_error %q, attempts %d; want it given up at the first attempt, saying why", secret, lastError, attempts)
		}
		time.Sleep(1500 * time.Millisecond) // a delivery round or more: nothing retries it
		_ = srv.stop()
		if n := len(smtpd.Messages()); n != 0 {
			t.Errorf("the SMTP server got %d messages, want none", n)
		}
		logs := srv.stderr.String()
		if !strings.Contains(logs, `"msg":"outbox message given up: its link does not open with this server's secret key`) || !strings.Contains(logs, mailID) {
			t.Errorf("the log says nothing of the unopened message %s:\n%s", mailID, logs)
		}
		if strings.Count(logs, "outbox message given up") != 1 {
			t.Errorf("the message was logged %d times, want once (given up, not retried)", strings.Count(logs, "outbox message given up"))
		}
		if strings.Contains(logs, linkSecret) || strings.Contains(logs, testSecretKey) {
			t.Errorf("the log holds a secret:\n%s", logs)
		}
	})
}
