package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

type eventsCmd struct {
	Subscribe eventsSubscribeCmd `cmd:"" help:"Create an event stream of a tenant's changes; prints its id."`
	List      eventsListCmd      `cmd:"" help:"List a tenant's event streams."`
	Disable   eventsStateCmd     `cmd:"" help:"Stop an event stream (it resumes where it stopped when enabled)."`
	Enable    eventsStateCmd     `cmd:"" help:"Resume a disabled or failing event stream from where it stopped."`
	Remove    eventsRemoveCmd    `cmd:"" help:"Delete an event stream."`
	Replay    eventsReplayCmd    `cmd:"" help:"Deliver a stream's events again from an audit sequence number."`
	RotateKey eventsRotateCmd    `cmd:"" name:"rotate-key" help:"Sign events with a new key; the old one stays published for --grace."`
}

// feed opens the database and returns the events service over it (with
// the secret key's box when one is configured).
func (c *cli) feed(e *env, sealing bool) (store.Backend, *events.Service, error) {
	db, svc, box, err := c.connect(e, openMode{prepare: migrateSchema, writes: true, needsKey: sealing}, nil)
	if err != nil {
		return nil, nil, err
	}
	// The command line renders nothing, but lets streams be full: the
	// server renders their resources.
	return db, events.NewService(db, box, svc, "", events.WithRenderer(scim.Render(svc, ""))), nil
}

type eventsSubscribeCmd struct {
	Tenant   string `required:"" help:"Tenant id."`
	URL      string `name:"url" xor:"delivery" required:"" help:"Push the events to this https URL (http only to a loopback address, for development)." placeholder:"URL"`
	Poll     string `xor:"delivery" required:"" help:"Make a poll stream for the token of this name (it needs the events scope)." placeholder:"TOKEN-NAME"`
	Full     bool   `help:"Carry the resource as a SCIM GET returns it (default: notice events with ids and changed attribute names)."`
	Audience string `help:"The SETs' aud claim; default: the URL, or the token's name."`
}

// Run creates the stream and prints its id alone.
func (s *eventsSubscribeCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := feed.Subscribe(e.ctx, operator(e), s.Tenant, events.StreamInput{URL: s.URL, TokenName: s.Poll, Full: s.Full, Audience: s.Audience})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, st.ID)
	return nil
}

type eventsListCmd struct {
	Tenant string `required:"" help:"Tenant id."`
}

// Run prints one line per stream: id, delivery, target, mode, state,
// cursor, last delivery, attempts and last error.
func (l *eventsListCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	streams, err := feed.Streams(e.ctx, l.Tenant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDELIVERY\tTARGET\tMODE\tSTATE\tCURSOR\tLAST DELIVERY\tATTEMPTS\tLAST ERROR")
	for _, s := range streams {
		target, mode, last := s.URL, "notice", "-"
		if s.Delivery == events.Poll {
			target = "token " + s.TokenID
		}
		if s.Full {
			mode = "full"
		}
		if s.LastDelivery != nil {
			last = s.LastDelivery.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", s.ID, s.Delivery, target, mode, s.State, s.Cursor, last, s.Attempts, s.LastError)
	}
	return w.Flush()
}

type eventsStateCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	ID     string `arg:"" help:"Stream id."`
}

// Run enables or disables the stream, by the command's name.
func (s *eventsStateCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := feed.SetEnabled(e.ctx, operator(e), s.Tenant, s.ID, e.command == "events enable")
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, st.State)
	return nil
}

type eventsRemoveCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	ID     string `arg:"" help:"Stream id."`
}

// Run deletes the stream.
func (r *eventsRemoveCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	return feed.Remove(e.ctx, operator(e), r.Tenant, r.ID)
}

type eventsReplayCmd struct {
	Tenant  string `required:"" help:"Tenant id."`
	ID      string `arg:"" help:"Stream id."`
	FromSeq int64  `name:"from-seq" required:"" help:"The audit sequence number to deliver again from (scimd audit list shows them)."`
}

// Run moves the stream's cursor back.
func (r *eventsReplayCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, false)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = feed.Replay(e.ctx, operator(e), r.Tenant, r.ID, r.FromSeq)
	return err
}

type eventsRotateCmd struct {
	Grace time.Duration `default:"168h" help:"How long the replaced key stays published at /events/v1/jwks.json."`
}

// Run makes a new signing key and prints its id (the kid).
func (r *eventsRotateCmd) Run(e *env, c *cli) error {
	db, feed, err := c.feed(e, true)
	if err != nil {
		return err
	}
	defer db.Close()
	kid, err := feed.RotateKey(e.ctx, operator(e), r.Grace)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, kid)
	return nil
}
