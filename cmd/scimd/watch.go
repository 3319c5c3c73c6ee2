package main

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/metrics"
)

// watchRetry is how long serve waits before it watches credential changes
// again after the watch failed.
const watchRetry = time.Second

// watchCredentials keeps the token and tenant caches of svc in step with
// the database until ctx ends (directory.Service.WatchCredentials): a
// revocation elsewhere takes effect here within a second. When the watch
// fails it logs once, retries every second, and logs when it watches again;
// meanwhile the caches live at most --token-cache. The metric
// scimd_credential_watch_up says which.
func watchCredentials(ctx context.Context, e *env, svc *directory.Service, reg *metrics.Registry) {
	down := false
	for ctx.Err() == nil {
		err := svc.WatchCredentials(ctx, func() {
			reg.SetCredentialWatch(true)
			if down {
				down = false
				e.logger.Info("watching credential changes again: revocations take effect within a second")
			}
		})
		reg.SetCredentialWatch(false)
		if err == nil || ctx.Err() != nil {
			return
		}
		if !down {
			down = true
			e.logger.Warn("cannot watch credential changes: a token revoked elsewhere may work here for up to --token-cache", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// watchSealed wakes the waiting event polls of a tenant when its changes
// are sealed (events.Service.WatchSealed) until ctx ends. When the watch
// fails it logs once and retries every second; meanwhile polls read the
// feed every two seconds.
func watchSealed(ctx context.Context, e *env, feed *events.Service) {
	down := false
	for ctx.Err() == nil {
		err := feed.WatchSealed(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if !down {
			down = true
			e.logger.Warn("cannot watch sealed changes: waiting event polls read the feed every 2 s", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}
