package record

import "github.com/scimd/scimd/internal/events"

// StreamColumns are the columns of an event stream in the order ScanStream
// reads them.
const StreamColumns = `id, tenant_id, delivery, url, token_id, full_data, audience, state, created_at, cursor,
	attempts, next_attempt_at, failing_since, last_delivery_at, last_error`

// ScanStream reads a row of StreamColumns, in either dialect's time
// columns.
func ScanStream(r Row) (events.Stream, error) {
	var (
		s                          events.Stream
		delivery, state            string
		created, next              Time
		failingSince, lastDelivery NullTime
	)
	err := r.Scan(&s.ID, &s.TenantID, &delivery, &s.URL, &s.TokenID, &s.Full, &s.Audience, &state, &created, &s.Cursor,
		&s.Attempts, &next, &failingSince, &lastDelivery, &s.LastError)
	s.Delivery, s.State = events.Delivery(delivery), events.State(state)
	s.CreatedAt, s.NextAttemptAt = created.Time, next.Time
	s.FailingSince, s.LastDelivery = failingSince.Ptr(), lastDelivery.Ptr()
	return s, err
}

// ScanSigningKey reads a row of id, private_jwk, public_jwk, created_at
// and retires_at, in either dialect's time columns.
func ScanSigningKey(r Row) (events.SigningKey, error) {
	var (
		k       events.SigningKey
		created Time
		retires NullTime
	)
	err := r.Scan(&k.ID, &k.Private, &k.Public, &created, &retires)
	k.CreatedAt, k.RetiresAt = created.Time, retires.Ptr()
	return k, err
}
