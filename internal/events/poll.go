package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// PollRequest is the body of a poll (RFC 8936 §2.4). MaxEvents nil means
// DefaultMaxEvents; 0 only acknowledges.
type PollRequest struct {
	MaxEvents         *int
	ReturnImmediately bool
	Ack               []string
	SetErrs           map[string]SetError
}

// SetError is the receiver's report of a SET it could not process (RFC
// 8936 §2.4.4): the SET is not sent again.
type SetError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// PollResponse is the answer of a poll: SETs by jti.
type PollResponse struct {
	Sets          map[string]string
	MoreAvailable bool
}

// Poll answers a poll of the token's stream: it records the
// acknowledgements and errors, then returns up to MaxEvents of the
// stream's SETs not yet acknowledged, oldest first, waiting up to
// MaxLongPoll (or until ctx ends) for one unless ReturnImmediately: a
// waiting poll reads the feed again when Sealed wakes it, or every
// WithPollFallback.
// Returns KindNotFound (the token polls no stream), KindForbidden (the
// stream is disabled) or KindInvalidValue (an ack of another stream's SET).
func (s *Service) Poll(ctx context.Context, tenantID, tokenID string, req PollRequest) (PollResponse, error) {
	const op = "events.Poll"
	st, err := s.store.PollStream(ctx, tenantID, tokenID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return PollResponse{}, &directory.Error{Kind: directory.KindNotFound, Op: op,
				Detail: "this token polls no event stream: create one with scimd events subscribe --poll"}
		}
		return PollResponse{}, fail(op, err)
	}
	if st.State != Active {
		return PollResponse{}, &directory.Error{Kind: directory.KindForbidden, Op: op, Detail: "this event stream is disabled"}
	}
	max := DefaultMaxEvents
	if req.MaxEvents != nil {
		max = *req.MaxEvents
	}
	if max < 0 || max > MaxMaxEvents {
		return PollResponse{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "maxEvents",
			Detail: fmt.Sprintf("maxEvents is 0 to %d", MaxMaxEvents)}
	}
	var seqs []int64
	for _, jti := range req.Ack {
		seq, ok := parseJTI(st.ID, jti)
		if !ok {
			return PollResponse{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "ack",
				Detail: fmt.Sprintf("ack names %q, which is not a SET of this stream", jti)}
		}
		seqs = append(seqs, seq)
	}
	for jti := range req.SetErrs {
		seq, ok := parseJTI(st.ID, jti)
		if !ok {
			return PollResponse{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "setErrs",
				Detail: fmt.Sprintf("setErrs names %q, which is not a SET of this stream", jti)}
		}
		seqs = append(seqs, seq)
	}
	if len(seqs) > 0 {
		if err := s.store.AddAcks(ctx, tenantID, st.ID, seqs); err != nil {
			return PollResponse{}, fail(op, err)
		}
		if st, err = s.advance(ctx, st); err != nil {
			return PollResponse{}, fail(op, err)
		}
	}
	resp := PollResponse{Sets: map[string]string{}}
	if max == 0 {
		return resp, nil
	}
	deadline := s.now().Add(MaxLongPoll)
	for {
		// Taken before reading: a seal after the read wakes the wait.
		sealed := s.wake(st.TenantID)
		pending, more, err := s.pending(ctx, st, max)
		if err != nil {
			return PollResponse{}, fail(op, err)
		}
		var gone []int64
		for _, e := range pending {
			set, ok, err := s.set(ctx, st, e)
			if err != nil {
				return PollResponse{}, fail(op, err)
			}
			if ok {
				resp.Sets[JTI(st.ID, e.Seq)] = set
			} else {
				gone = append(gone, e.Seq) // a full event of a resource deleted since: its delete follows
			}
		}
		if len(gone) > 0 {
			if err := s.store.AddAcks(ctx, st.TenantID, st.ID, gone); err != nil {
				return PollResponse{}, fail(op, err)
			}
			if len(resp.Sets) == 0 {
				continue // look again at once: the acknowledged ones are left out
			}
		}
		resp.MoreAvailable = more
		if len(resp.Sets) > 0 || req.ReturnImmediately || !s.now().Before(deadline) {
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return resp, nil
		case <-sealed:
		case <-time.After(min(s.pollFallback, deadline.Sub(s.now()))):
		}
	}
}

// pending returns up to max of the stream's feed events after its cursor
// that are not acknowledged, and whether there are more.
func (s *Service) pending(ctx context.Context, st Stream, max int) ([]audit.Event, bool, error) {
	acks, err := s.store.Acks(ctx, st.ID)
	if err != nil {
		return nil, false, err
	}
	acked := make(map[int64]bool, len(acks))
	for _, a := range acks {
		acked[a] = true
	}
	var out []audit.Event
	after := st.Cursor
	for {
		evs, err := s.store.FeedEvents(ctx, st.TenantID, after, feedBatch)
		if err != nil {
			return nil, false, err
		}
		for _, e := range evs {
			if !InFeed(e) || acked[e.Seq] {
				continue
			}
			if len(out) == max {
				return out, true, nil
			}
			out = append(out, e)
		}
		if len(evs) < feedBatch {
			return out, false, nil
		}
		after = evs[len(evs)-1].Seq
	}
}

// advance moves the poll stream's cursor over the events that are
// acknowledged or not in the feed, and returns the stream.
func (s *Service) advance(ctx context.Context, st Stream) (Stream, error) {
	acks, err := s.store.Acks(ctx, st.ID)
	if err != nil {
		return st, err
	}
	acked := make(map[int64]bool, len(acks))
	for _, a := range acks {
		acked[a] = true
	}
	cursor := st.Cursor
walk:
	for {
		evs, err := s.store.FeedEvents(ctx, st.TenantID, cursor, feedBatch)
		if err != nil {
			return st, err
		}
		for _, e := range evs {
			if InFeed(e) && !acked[e.Seq] {
				break walk
			}
			cursor = e.Seq
		}
		if len(evs) < feedBatch {
			break
		}
	}
	if cursor == st.Cursor {
		return st, nil
	}
	if err := s.store.AdvanceStream(ctx, st.TenantID, st.ID, "", cursor, s.now(), true); err != nil {
		return st, err
	}
	st.Cursor = cursor
	return st, nil
}
