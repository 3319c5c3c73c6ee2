package events

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Backoff returns the wait after the attempts-th failed push of one
// event: 1 s doubling up to MaxBackoff.
func Backoff(attempts int) time.Duration {
	if attempts < 1 {
		return 0
	}
	if attempts > 13 { // 2^12 s > MaxBackoff
		return MaxBackoff
	}
	return min(MaxBackoff, time.Second<<(attempts-1))
}

// Deliver runs one round of push delivery: it claims the push streams
// with events due (no other process delivers them meanwhile) and pushes
// each one's events in audit order, one at a time, until one fails (it is
// retried after Backoff; after MaxRetryPeriod of failures the stream is
// Failing) or the claim is nearly over. Returns the number of SETs
// delivered. A process that stops between a push and its record pushes the
// same SET (the same jti) again: at least once, never skipped.
func (s *Service) Deliver(ctx context.Context, send Sender) (int, error) {
	claim := uuid.NewString()
	now := s.now()
	streams, err := s.store.ClaimStreams(ctx, claim, now, now.Add(ClaimTTL), claimStreams)
	if err != nil {
		return 0, fail("events.Deliver", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	for _, st := range streams {
		wg.Go(func() {
			n, err := s.deliverStream(ctx, st, claim, now.Add(ClaimTTL/2), send)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return total, fail("events.Deliver", first)
}

// deliverStream pushes the claimed stream's due events until one fails, the
// events run out or stop passes, then releases the claim.
func (s *Service) deliverStream(ctx context.Context, st Stream, claim string, stop time.Time, send Sender) (int, error) {
	// Release even when ctx ends: another process can then take over at once.
	defer s.store.ReleaseStream(context.WithoutCancel(ctx), st.ID, claim)
	sent := 0
	for {
		evs, err := s.store.FeedEvents(ctx, st.TenantID, st.Cursor, pushBatch)
		if err != nil || len(evs) == 0 {
			return sent, err
		}
		skipped := int64(0)
		for _, e := range evs {
			if ctx.Err() != nil || !s.now().Before(stop) {
				return sent, s.skip(ctx, st, claim, skipped)
			}
			set, ok, err := s.set(ctx, st, e)
			if err != nil {
				return sent, err
			}
			if !ok {
				skipped = e.Seq
				continue
			}
			at := s.now()
			err = send(ctx, st, set)
			if s.observe != nil && ctx.Err() == nil {
				s.observe(st, e, s.now().Sub(at), err)
			}
			if err != nil {
				if ctx.Err() != nil {
					return sent, s.skip(ctx, st, claim, skipped)
				}
				return sent, s.failed(ctx, st, claim, skipped, err, at)
			}
			if err := s.store.AdvanceStream(ctx, st.TenantID, st.ID, claim, e.Seq, s.now(), true); err != nil {
				if errors.Is(err, ErrClaimLost) {
					return sent + 1, nil // disabled, replayed or removed meanwhile: the next round sees it
				}
				return sent, err
			}
			st.Cursor, skipped, st.Attempts, st.FailingSince = e.Seq, 0, 0, nil
			sent++
		}
		if err := s.skip(ctx, st, claim, skipped); err != nil {
			return sent, err
		}
		st.Cursor = evs[len(evs)-1].Seq
		if len(evs) < pushBatch {
			return sent, nil
		}
	}
}

// skip moves the cursor over events not in the feed, up to seq (0: none).
// A lost claim is no error: the stream changed meanwhile.
func (s *Service) skip(ctx context.Context, st Stream, claim string, seq int64) error {
	if seq == 0 {
		return nil
	}
	err := s.store.AdvanceStream(ctx, st.TenantID, st.ID, claim, seq, s.now(), false)
	if errors.Is(err, ErrClaimLost) {
		return nil
	}
	return err
}

// failed records a failed push at at and schedules the next.
func (s *Service) failed(ctx context.Context, st Stream, claim string, skipped int64, cause error, at time.Time) error {
	if err := s.skip(ctx, st, claim, skipped); err != nil {
		return err
	}
	since := at
	if st.FailingSince != nil {
		since = *st.FailingSince
	}
	failing := at.Sub(since) >= MaxRetryPeriod
	reason := cause.Error()
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return s.store.StreamFailed(ctx, st.ID, claim, reason, at, at.Add(Backoff(st.Attempts+1)), failing)
}
