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
// events run out or stop passes, then releases the claim. The cursor is
// recorded after every RecordBatch SETs or RecordEvery, and when the round
// ends: a process that stops meanwhile pushes those SETs again (at least
// once), and an operator's change of the stream (which ends the claim) is
// noticed at the next record.
func (s *Service) deliverStream(ctx context.Context, st Stream, claim string, stop time.Time, send Sender) (int, error) {
	// Release even when ctx ends: another process can then take over at once.
	defer s.store.ReleaseStream(context.WithoutCancel(ctx), st.ID, claim)
	c := cursor{s: s, st: &st, claim: claim, recorded: st.Cursor, at: s.now()}
	sent := 0
	for {
		evs, err := s.store.FeedEvents(ctx, st.TenantID, st.Cursor, pushBatch)
		if err != nil || len(evs) == 0 {
			return sent, errors.Join(err, c.finish(ctx))
		}
		for _, e := range evs {
			if ctx.Err() != nil || !s.now().Before(stop) {
				return sent, c.finish(ctx)
			}
			set, ok, err := s.set(ctx, st, e)
			if err != nil {
				return sent, errors.Join(err, c.finish(ctx))
			}
			if !ok {
				st.Cursor = e.Seq // not in the feed: passed over
				continue
			}
			at := s.now()
			err = send(ctx, st, set)
			if s.observe != nil && ctx.Err() == nil {
				s.observe(st, e, s.now().Sub(at), err)
			}
			if err != nil {
				if ctx.Err() != nil {
					return sent, c.finish(ctx)
				}
				return sent, s.failed(ctx, &c, err, at)
			}
			st.Cursor, st.Attempts, st.FailingSince = e.Seq, 0, nil
			c.delivered, c.lastDelivery = true, s.now()
			sent++
			if c.due() {
				if err := c.record(ctx); err != nil {
					if errors.Is(err, ErrClaimLost) {
						return sent, nil // disabled, replayed or removed meanwhile: the next round sees it
					}
					return sent, err
				}
			}
		}
		if len(evs) < pushBatch {
			return sent, c.finish(ctx)
		}
	}
}

// RecordBatch and RecordEvery bound the SETs a push stream delivers
// between two records of its cursor, and so the SETs pushed again after a
// process dies: a record is a write, which on SQLite queues behind (and
// ahead of) every other change, so one per SET slowed imports.
const (
	RecordBatch = 200
	RecordEvery = time.Second
)

// cursor is the delivery position of a claimed push stream: st.Cursor is
// the last event done with (delivered or not in the feed), recorded the
// last one stored.
type cursor struct {
	s            *Service
	st           *Stream
	claim        string
	recorded     int64
	at           time.Time // of the last record
	delivered    bool      // a SET was delivered since
	lastDelivery time.Time
}

// due reports whether the cursor should be recorded now.
func (c *cursor) due() bool {
	return c.st.Cursor-c.recorded >= RecordBatch || c.s.now().Sub(c.at) >= RecordEvery
}

// record stores the cursor if it moved, also when ctx has ended (the
// round is over). Returns ErrClaimLost when the claim no longer holds the
// stream (it changed meanwhile).
func (c *cursor) record(ctx context.Context) error {
	if c.st.Cursor <= c.recorded {
		return nil
	}
	at := c.lastDelivery
	if !c.delivered {
		at = c.s.now()
	}
	err := c.s.store.AdvanceStream(context.WithoutCancel(ctx), c.st.TenantID, c.st.ID, c.claim, c.st.Cursor, at, c.delivered)
	c.recorded, c.at, c.delivered = c.st.Cursor, c.s.now(), false
	return err
}

// finish records the cursor at the end of a round: a lost claim is no
// error, the next round sees the stream as it is now.
func (c *cursor) finish(ctx context.Context) error {
	if err := c.record(ctx); !errors.Is(err, ErrClaimLost) {
		return err
	}
	return nil
}

// failed records the cursor, then the failed push at at, and schedules the
// next.
func (s *Service) failed(ctx context.Context, c *cursor, cause error, at time.Time) error {
	if err := c.finish(ctx); err != nil {
		return err
	}
	st := c.st
	since := at
	if st.FailingSince != nil {
		since = *st.FailingSince
	}
	failing := at.Sub(since) >= MaxRetryPeriod
	reason := cause.Error()
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return s.store.StreamFailed(ctx, st.ID, c.claim, reason, at, at.Add(Backoff(st.Attempts+1)), failing)
}
