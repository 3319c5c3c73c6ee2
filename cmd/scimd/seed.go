package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/plural"
)

// devCmd holds commands for developers: test data.
type devCmd struct {
	Seed seedCmd `cmd:"" help:"Create tenants full of generated users and groups, for benchmarks and load tests."`
}

// seedCmd fills new tenants with generated users through the service, so
// that every rule and every audit event is the same as for a real create:
// each user has two emails, a name, the enterprise extension and
// memberships of --memberships of the tenant's --groups groups.
type seedCmd struct {
	Users       int    `default:"1000000" help:"Users of the first (large) tenant."`
	Tenants     int    `default:"9" help:"Small tenants created besides the large one."`
	TenantUsers int    `name:"tenant-users" default:"10000" help:"Users of each small tenant."`
	Groups      int    `default:"100" help:"Groups of each tenant."`
	Memberships int    `default:"3" help:"Groups each user joins."`
	Workers     int    `default:"16" help:"Users created at once."`
	Prefix      string `default:"seed" help:"Prefix of the tenant names (seed-large, seed-1, ...)."`
}

// Run seeds the tenants and prints a scim token of the large one.
func (s *seedCmd) Run(e *env, c *cli) error {
	if s.Users < 0 || s.Tenants < 0 || s.TenantUsers < 0 || s.Groups < 0 || s.Workers < 1 || s.Memberships < 0 || s.Memberships > s.Groups {
		return fmt.Errorf("seed: counts must not be negative, --workers at least 1, --memberships at most --groups")
	}
	db, svc, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	op := operator(e)
	start := time.Now()
	var token string
	for t := 0; t <= s.Tenants; t++ {
		name, n := fmt.Sprintf("%s-%d", s.Prefix, t), s.TenantUsers
		if t == 0 {
			name, n = s.Prefix+"-large", s.Users
		}
		tenant, err := svc.CreateTenant(e.ctx, op, name)
		if err != nil {
			return err
		}
		writer := op
		if t == 0 {
			var tok directory.Token
			if token, tok, err = svc.CreateToken(e.ctx, op, tenant.ID, "seed", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{}); err != nil {
				return err
			}
			// The externalIds are the token's, so that its requests (scimload
			// -filter externalId) find them.
			writer.Connection = tok.ID
		}
		if err := s.fill(e, svc, writer, tenant, n); err != nil {
			return err
		}
	}
	if err := svc.SealAudit(e.ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %s in %v\nscim token of %s-large: %s\n", plural.Count(s.Tenants+1, "tenant", "tenants"), time.Since(start).Round(time.Second), s.Prefix, token)
	return nil
}

// fill creates the tenant's groups and n users on --workers goroutines,
// printing progress every 10 seconds, then adds the memberships group by
// group in chunks (one group change per chunk, not one per user).
func (s *seedCmd) fill(e *env, svc *directory.Service, op directory.Caller, tenant directory.Tenant, n int) error {
	groups := make([]string, s.Groups)
	for i := range groups {
		g, err := svc.CreateGroup(e.ctx, op, tenant.ID, directory.GroupInput{DisplayName: fmt.Sprintf("group-%03d", i)})
		if err != nil {
			return err
		}
		groups[i] = g.ID
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		firstErr   error
		once       sync.Once
		wg         sync.WaitGroup
	)
	ids := make([]string, n)
	start := time.Now()
	ticker := time.NewTicker(10 * time.Second)
	stopProgress := make(chan struct{})
	defer func() { ticker.Stop(); close(stopProgress) }()
	go func() {
		for {
			select {
			case <-ticker.C:
				d := done.Load()
				fmt.Fprintf(e.stderr, "%s: %d of %s (%.0f/s)\n", tenant.Name, d, plural.Count(n, "user", "users"), float64(d)/time.Since(start).Seconds())
			case <-stopProgress:
				return
			}
		}
	}()
	for range s.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				u, err := svc.CreateUser(ctx, op, tenant.ID, seedUser(i))
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("seed user %d of %s: %w", i, tenant.Name, err); cancel() })
					return
				}
				ids[i] = u.ID
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	ticker.Stop()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(e.stderr, "%s: %s in %v\n", tenant.Name, plural.Count(n, "user", "users"), time.Since(start).Round(time.Second))
	// User i joins groups i, i+1, ... (mod the number of groups).
	members := make([][]string, len(groups))
	for i, id := range ids {
		for k := range s.Memberships {
			g := (i + k) % len(groups)
			members[g] = append(members[g], id)
		}
	}
	const chunk = 5000
	for g, ms := range members {
		for from := 0; from < len(ms); from += chunk {
			add := ms[from:min(from+chunk, len(ms))]
			if _, err := svc.PatchGroup(e.ctx, op, tenant.ID, groups[g], 0, directory.GroupPatch{Members: directory.MemberChange{Add: add}}); err != nil {
				return fmt.Errorf("seed memberships of group %d of %s: %w", g, tenant.Name, err)
			}
		}
	}
	fmt.Fprintf(e.stderr, "%s: %s and their memberships in %v\n", tenant.Name, plural.Count(n, "user", "users"), time.Since(start).Round(time.Second))
	return nil
}

var (
	seedGiven  = []string{"Anita", "Bob", "Chen", "Dara", "Émile", "Farah", "Gus", "Hana", "Ivo", "Jun"}
	seedFamily = []string{"Singh", "Berg", "Okafor", "Müller", "Tanaka", "Smith", "Rossi", "Novak", "Silva", "Kim"}
	seedDepts  = []string{"Engineering", "Sales", "Support", "Finance", "Legal"}
)

// seedUser is the i-th generated user: user<i>@seed.example, a work and a
// home email, a name, an externalId and the enterprise extension.
func seedUser(i int) directory.UserInput {
	given, family := seedGiven[i%len(seedGiven)], seedFamily[(i/len(seedGiven))%len(seedFamily)]
	u := directory.User{
		UserName:    fmt.Sprintf("user%d@seed.example", i),
		Active:      i%10 != 0,
		Name:        directory.Name{GivenName: given, FamilyName: family},
		DisplayName: fmt.Sprintf("%s %s %d", given, family, i),
		Emails: []directory.Email{
			{Value: fmt.Sprintf("user%d@seed.example", i), Type: "work", Primary: true},
			{Value: fmt.Sprintf("u%d@home.example", i), Type: "home"},
		},
		Enterprise: directory.Enterprise{EmployeeNumber: fmt.Sprint(100000 + i), Department: seedDepts[i%len(seedDepts)]},
	}
	return directory.UserInput{User: u, ExternalID: fmt.Sprintf("ext-%d", i)}
}
