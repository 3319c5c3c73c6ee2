package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
)

// streamView is an event stream as the API shows it.
type streamView struct {
	ID       string `json:"id"`
	Delivery string `json:"delivery"`          // push or poll
	URL      string `json:"url,omitempty"`     // push
	TokenID  string `json:"tokenId,omitempty"` // poll
	Mode     string `json:"mode"`              // notice or full
	Audience string `json:"audience"`
	State    string `json:"state"` // active, disabled or failing
	// Cursor is the tenant's last audit sequence number the stream is done
	// with; Backlog the audit events after it (not all become SETs).
	Cursor        int64      `json:"cursor"`
	Backlog       int64      `json:"backlog"`
	LastDelivery  *time.Time `json:"lastDelivery,omitempty"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	FailingSince  *time.Time `json:"failingSince,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
}

func viewStream(s events.Stream, head int64) streamView {
	v := streamView{ID: s.ID, Delivery: string(s.Delivery), URL: s.URL, TokenID: s.TokenID, Mode: "notice", Audience: s.Audience,
		State: string(s.State), Cursor: s.Cursor, Backlog: max(0, head-s.Cursor), LastDelivery: s.LastDelivery,
		Attempts: s.Attempts, FailingSince: s.FailingSince, LastError: s.LastError, CreatedAt: s.CreatedAt}
	if s.Full {
		v.Mode = "full"
	}
	if s.Attempts > 0 {
		next := s.NextAttemptAt
		v.NextAttemptAt = &next
	}
	return v
}

// servesEvents answers 404 when the server has no event streams.
func (a *api) servesEvents(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.events == nil {
			a.writeError(w, r, directory.Errorf(directory.KindNotFound, "", "this server serves no event streams"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// head returns the tenant's last sealed audit sequence number.
func (a *api) head(ctx context.Context, tenantID string) int64 {
	h, err := a.events.Head(ctx, tenantID)
	if err != nil {
		return 0
	}
	return h
}

// listStreams serves GET /event-streams.
func (a *api) listStreams(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	streams, err := a.events.Streams(r.Context(), p.Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	head := a.head(r.Context(), p.Principal.Tenant.ID)
	out := make([]streamView, 0, len(streams))
	for _, s := range streams {
		out = append(out, viewStream(s, head))
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": out})
}

// newStream is the body of POST /event-streams: url (push) or pollToken
// (the name of an events-scoped token, poll).
type newStream struct {
	URL       string `json:"url"`
	PollToken string `json:"pollToken"`
	Full      bool   `json:"full"`
	Audience  string `json:"audience"`
}

// createStream serves POST /event-streams: 201 with the stream. Audited
// as event_stream.created.
func (a *api) createStream(w http.ResponseWriter, r *http.Request) {
	var body newStream
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	s, err := a.events.Subscribe(r.Context(), p.Caller, p.Principal.Tenant.ID, events.StreamInput{URL: body.URL, TokenName: body.PollToken, Full: body.Full, Audience: body.Audience})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewStream(s, s.Cursor))
}

// getStream serves GET /event-streams/{id}.
func (a *api) getStream(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	s, err := a.events.Stream(r.Context(), p.Principal.Tenant.ID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewStream(s, a.head(r.Context(), p.Principal.Tenant.ID)))
}

// streamPatch is the body of PATCH /event-streams/{id}: a new state
// (active or disabled), or fromSeq to deliver again from that audit
// sequence number.
type streamPatch struct {
	State   string `json:"state"`
	FromSeq int64  `json:"fromSeq"`
}

// patchStream serves PATCH /event-streams/{id}. Audited as
// event_stream.updated.
func (a *api) patchStream(w http.ResponseWriter, r *http.Request) {
	var body streamPatch
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p, id := exchange.Of(r.Context()), chi.URLParam(r, "id")
	if (body.State == "") == (body.FromSeq == 0) {
		a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "state", "send either state (active or disabled) or fromSeq"))
		return
	}
	var (
		s   events.Stream
		err error
	)
	switch body.State {
	case "":
		s, err = a.events.Replay(r.Context(), p.Caller, p.Principal.Tenant.ID, id, body.FromSeq)
	case string(events.Active), string(events.Disabled):
		s, err = a.events.SetEnabled(r.Context(), p.Caller, p.Principal.Tenant.ID, id, body.State == string(events.Active))
	default:
		err = directory.Errorf(directory.KindInvalidValue, "state", "state is active or disabled")
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewStream(s, a.head(r.Context(), p.Principal.Tenant.ID)))
}

// deleteStream serves DELETE /event-streams/{id}: 204. Audited as
// event_stream.removed.
func (a *api) deleteStream(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.events.Remove(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
