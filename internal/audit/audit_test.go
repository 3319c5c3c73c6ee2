package audit

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func chain(n int) []Event {
	evs := make([]Event, n)
	prev := ""
	for i := range evs {
		evs[i] = Event{
			TenantID: "t1", Seq: int64(i + 1), Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
			Type: UserCreated, Actor: Actor{Kind: ActorToken, ID: "tok", Name: "okta"},
			Target:  Target{Type: "user", ID: "u", Display: "a@example.com"},
			Changes: json.RawMessage(`[{"attribute":"userName","new":"a@example.com"}]`),
		}
		evs[i].PrevHash = prev
		evs[i].Hash = ComputeHash(prev, evs[i])
		prev = evs[i].Hash
	}
	return evs
}

func TestVerify(t *testing.T) {
	if err := Verify(chain(5)); err != nil {
		t.Fatalf("Verify(intact) = %v, want nil", err)
	}
	tests := []struct {
		name    string
		tamper  func([]Event) []Event
		wantSeq int64
	}{
		{"edited changes", func(e []Event) []Event { e[2].Changes = json.RawMessage(`[]`); return e }, 3},
		{"edited actor", func(e []Event) []Event { e[1].Actor.Name = "someone"; return e }, 2},
		{"method added", func(e []Event) []Event { e[3].Method = MethodPut; return e }, 4},
		{"edited time", func(e []Event) []Event { e[4].Time = e[4].Time.Add(time.Second); return e }, 5},
		{"deleted event", func(e []Event) []Event { return append(e[:1], e[2:]...) }, 3},
		{"deleted first", func(e []Event) []Event { return e[1:] }, 2},
		{"rehashed after edit", func(e []Event) []Event {
			e[1].Type = UserDeleted
			e[1].Hash = ComputeHash(e[1].PrevHash, e[1])
			return e
		}, 3},
	}
	for _, tc := range tests {
		err := Verify(tc.tamper(chain(5)))
		var be *BrokenChainError
		if !errors.As(err, &be) || be.Seq != tc.wantSeq {
			t.Errorf("Verify(%s) = %v, want a broken chain at event %d", tc.name, err, tc.wantSeq)
		}
	}
}

func TestComputeHashSeparatesFields(t *testing.T) {
	a := Event{Type: "ab", Source: "c"}
	b := Event{Type: "a", Source: "bc"}
	if ComputeHash("", a) == ComputeHash("", b) {
		t.Errorf("ComputeHash: fields %q|%q and %q|%q hash alike", a.Type, a.Source, b.Type, b.Source)
	}
}

func TestVerifyHead(t *testing.T) {
	events := chain(3)
	for _, tc := range []struct {
		name    string
		events  []Event
		head    Head
		wantSeq int64 // 0: no error
	}{
		{"matches the newest", events, Head{Seq: 3, Hash: events[2].Hash}, 0},
		{"events sealed after the head was read", events, Head{Seq: 2, Hash: events[1].Hash}, 0},
		{"nothing sealed yet", nil, Head{}, 0},
		{"newest deleted", events[:2], Head{Seq: 3, Hash: events[2].Hash}, 3},
		{"all deleted", nil, Head{Seq: 3, Hash: events[2].Hash}, 1},
		{"newest replaced", events, Head{Seq: 3, Hash: "forged"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyHead(tc.events, tc.head)
			if tc.wantSeq == 0 {
				if err != nil {
					t.Fatalf("VerifyHead() = %v, want nil", err)
				}
				return
			}
			var broken *BrokenChainError
			if !errors.As(err, &broken) || broken.Seq != tc.wantSeq {
				t.Fatalf("VerifyHead() = %v, want a *BrokenChainError at %d", err, tc.wantSeq)
			}
		})
	}
}

func TestMembersEvent(t *testing.T) {
	base := chain(1)[0]
	group := Target{Type: "group", ID: "g1", Display: "Engineering"}
	added, err := MembersEvent(base, GroupMembersAdded, group, []string{"u1", "u2"})
	if err != nil {
		t.Fatal(err)
	}
	if added.Type != GroupMembersAdded || added.Target != group || added.Actor != base.Actor || !added.Time.Equal(base.Time) ||
		added.Seq != 0 || added.Hash != "" || string(added.Changes) != `[{"attribute":"members","new":["u1","u2"]}]` {
		t.Errorf("MembersEvent(added) = %+v", added)
	}
	removed, err := MembersEvent(base, GroupMembersRemoved, group, []string{"u3"})
	if err != nil {
		t.Fatal(err)
	}
	if string(removed.Changes) != `[{"attribute":"members","old":["u3"]}]` {
		t.Errorf("MembersEvent(removed).Changes = %s", removed.Changes)
	}
}

// TestComputeHashMethod: an event without a method hashes as before the
// method was recorded (the hash of a fixed event), so existing chains
// verify; a method is hashed.
func TestComputeHashMethod(t *testing.T) {
	e := chain(1)[0]
	const before = "b6392be76bf25c380eb8c994b14a14c7b91210ec9d9baee511265a66e23d14eb" // computed before Method existed
	if got := ComputeHash("", e); got != before {
		t.Errorf("ComputeHash(no method) = %s, want %s", got, before)
	}
	e.Method = MethodPatch
	if got := ComputeHash("", e); got == before {
		t.Errorf("ComputeHash(method PATCH) = %s, the hash without a method", got)
	}
}
