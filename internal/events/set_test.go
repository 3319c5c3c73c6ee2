package events_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/events"
)

func TestBuild(t *testing.T) {
	changes, _ := audit.EncodeChanges([]audit.Change{{Attribute: "userName", New: "anita@example.com"}, {Attribute: "password"}, {Attribute: "userName"}, {Attribute: "email"}, {Attribute: "emails"}, {Attribute: "status"}})
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(typ, target string) audit.Event {
		return audit.Event{TenantID: "t1", Seq: 42, Time: at, Type: typ, Target: audit.Target{Type: target, ID: "u1"}, Changes: changes}
	}
	s := events.Stream{ID: "s1", Audience: "https://app.example.com"}
	want := []string{"userName", "password", "emails", "urn:ietf:params:scim:schemas:extension:platform:2.0:User:status"}
	for _, tc := range []struct {
		typ, target, uri, sub string
		attrs                 []string // nil: no attributes member
	}{
		{audit.UserCreated, "user", "urn:ietf:params:scim:event:prov:create:notice", "/Users/u1", want},
		{audit.UserInvited, "user", "urn:ietf:params:scim:event:prov:create:notice", "/Users/u1", want},
		{audit.UserUpdated, "user", "urn:ietf:params:scim:event:prov:patch:notice", "/Users/u1", want},
		{audit.UserDeactivated, "user", "urn:ietf:params:scim:event:prov:deactivate", "/Users/u1", nil},
		{audit.UserReactivated, "user", "urn:ietf:params:scim:event:prov:activate", "/Users/u1", nil},
		{audit.UserDeleted, "user", "urn:ietf:params:scim:event:prov:delete", "/Users/u1", nil},
		{audit.GroupMembersAdded, "group", "urn:ietf:params:scim:event:prov:patch:notice", "/Groups/u1", append([]string{"members"}, want...)},
		{audit.GroupDeleted, "group", "urn:ietf:params:scim:event:prov:delete", "/Groups/u1", nil},
	} {
		c, ok, err := events.Build("https://scim.example.com", s, ev(tc.typ, tc.target), nil)
		if err != nil || !ok {
			t.Fatalf("Build(%s) = %v, %v, want a SET", tc.typ, ok, err)
		}
		raw, _ := json.Marshal(c)
		if strings.Contains(string(raw), "anita@example.com") {
			t.Errorf("Build(%s) = %s, carries a changed value", tc.typ, raw)
		}
		var got struct {
			Iss, Jti, Aud, Txn string
			Iat                int64
			SubID              map[string]string `json:"sub_id"`
			Events             map[string]struct{ Attributes []string }
		}
		_ = json.Unmarshal(raw, &got)
		p, found := got.Events[tc.uri]
		if !found || len(got.Events) != 1 || got.SubID["format"] != "scim" || got.SubID["uri"] != tc.sub ||
			got.Iss != "https://scim.example.com" || got.Jti != "s1.42" || got.Txn != "t1.42" || got.Aud != s.Audience || got.Iat != at.Unix() {
			t.Errorf("Build(%s) = %s, want event %s about %s", tc.typ, raw, tc.uri, tc.sub)
		}
		if strings.Join(p.Attributes, ",") != strings.Join(tc.attrs, ",") {
			t.Errorf("Build(%s) attributes = %v, want %v", tc.typ, p.Attributes, tc.attrs)
		}
	}
	for _, typ := range []string{audit.TokenCreated, audit.TenantPolicyUpdated, audit.UserResetLinkIssued, audit.EventStreamCreated} {
		if _, ok, err := events.Build("https://scim.example.com", s, ev(typ, "user"), nil); ok || err != nil {
			t.Errorf("Build(%s) = %v, %v, want no SET", typ, ok, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://hooks.example.com/scim", false, true},
		{"http://127.0.0.1:8080/hook", false, true},
		{"http://[::1]/hook", false, true},
		{"http://localhost:9000/hook", false, true},
		{"http://hooks.example.com/scim", false, false},
		{"ftp://hooks.example.com/scim", false, false},
		{"https://user:secret@hooks.example.com/", false, false},
		{"https://10.1.2.3/hook", false, false},
		{"https://10.1.2.3/hook", true, true},
		{"https://192.168.0.10/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[fe80::1]/hook", false, false},
		{"https://[fd00:ec2::254]/", false, false},
		{"https://100.64.0.1/", false, false},
		{"https://0.0.0.0/", true, false},
		{"https://224.0.0.1/", true, false},
		{"/relative", false, false},
	} {
		_, err := events.CheckURL(tc.url, tc.allowPrivate)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, allowPrivate %t) = %v, want ok %t", tc.url, tc.allowPrivate, err, tc.ok)
		}
	}
	if err := events.CheckIP(netip.MustParseAddr("::ffff:10.0.0.1"), false); err == nil {
		t.Errorf("CheckIP(IPv4-mapped 10.0.0.1) = nil, want refused")
	}
	if err := events.CheckAddress("172.16.0.5:443", false); err == nil {
		t.Errorf("CheckAddress(172.16.0.5:443) = nil, want refused")
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {12, 2048 * time.Second}, {13, time.Hour}, {100, time.Hour}} {
		if got := events.Backoff(tc.attempts); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}
