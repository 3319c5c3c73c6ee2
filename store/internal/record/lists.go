package record

import (
	"context"
	"fmt"
	"sync"

	"github.com/scimd/scimd/internal/directory"
)

// Position is where a page of a tenant's users in creation order (a list
// without a filter, a sort or a cursor) ended: its last user's sort key
// and id, and the tenant's changes as the page's statement read them (the
// sum of user_counts.changes, which moves on with every user created or
// deleted). While a tenant's changes stay the same, its users in creation
// order are the same list: the user is still at that position, and the
// page that continues the list can start after it instead of skipping
// every user before it.
type Position struct {
	Key     any
	ID      string
	Changes int64
}

// Positions keeps where recent pages of users in creation order ended, by
// tenant and number of users up to the position. An identity provider's
// import asks for startIndex 1, 101, 201 and so on, each page after the
// one before: with the positions, every page costs what the first does,
// where an offset skips more users with every page (at a million users,
// about a quarter of a second a page halfway through). SQLite, served by
// one process, keeps them in its memory (MemoryPositions); PostgreSQL in
// a table, where every replica finds them.
type Positions interface {
	// Take returns the tenant's position after n users, nil when there is
	// none.
	Take(ctx context.Context, tenantID string, n int) (*Position, error)
	// Keep stores the tenant's position after n users and deletes the one
	// after prev users, which the page continued from (prev 0: none).
	Keep(ctx context.Context, tenantID string, n int, p Position, prev int) error
}

// MemoryPositions are Positions in a process's memory, at most
// maxPositions of them. The zero value is ready to use.
type MemoryPositions struct {
	mu sync.Mutex
	m  map[positionKey]Position
}

type positionKey struct {
	tenantID string
	n        int
}

// maxPositions bounds MemoryPositions: a position for each import under
// way, and those of imports given up.
const maxPositions = 4096

// Take returns the tenant's position after n users, nil when there is
// none.
func (p *MemoryPositions) Take(_ context.Context, tenantID string, n int) (*Position, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.m[positionKey{tenantID, n}]
	if !ok {
		return nil, nil
	}
	return &pos, nil
}

// Keep stores the tenant's position after n users in place of the one
// after prev users; when full, it drops a position first, as the map's
// order has it.
func (p *MemoryPositions) Keep(_ context.Context, tenantID string, n int, pos Position, prev int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[positionKey]Position{}
	}
	delete(p.m, positionKey{tenantID, prev})
	k := positionKey{tenantID, n}
	if _, ok := p.m[k]; !ok && len(p.m) >= maxPositions {
		for old := range p.m {
			delete(p.m, old)
			break
		}
	}
	p.m[k] = pos
	return nil
}

// Reader runs reads of a store's dialect with ? placeholders.
type Reader interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// ListUsers returns a page of the tenant's users matching q in q.Sort
// order, and the number that matched, reading with r; with q.Groups, their
// groups. The total, the page and the groups come from one statement, so
// they agree. A page of the users in creation order starts after the
// position positions holds for it when the tenant's users are still those
// the position was read with, and otherwise skips q.StartIndex-1 users; it
// leaves its own end in positions for the page after it.
func ListUsers(ctx context.Context, d *Dialect, r Reader, positions Positions, tenantID string, q directory.UserQuery, groupsColumn string) (directory.UserPage, error) {
	start := max(q.StartIndex, 1)
	inOrder := q.Filter == nil && q.Sort == nil && q.After == nil
	var resume *Position
	if inOrder && start > 1 && q.Count > 0 {
		var err error
		if resume, err = positions.Take(ctx, tenantID, start-1); err != nil {
			return directory.UserPage{}, fmt.Errorf("take the position: %w", err)
		}
	}
	st, err := UserList(d, tenantID, q, resume, groupsColumn)
	if err != nil {
		return directory.UserPage{}, err
	}
	var page directory.UserPage
	if q.Count > 0 {
		rows, err := r.Query(ctx, st.Page, st.PageArgs...)
		if err != nil {
			return directory.UserPage{}, err
		}
		var changes int64
		if page, changes, err = ReadUserPage(rows, &st, q.Groups); err != nil {
			return directory.UserPage{}, err
		}
		prev := 0
		if resume != nil {
			prev = start - 1
		}
		if resume != nil && (len(page.Users) == 0 || changes != resume.Changes) {
			// Users were created or deleted since the position was read
			// (or none follow it): skip as many as asked instead.
			if st, err = UserList(d, tenantID, q, nil, groupsColumn); err != nil {
				return directory.UserPage{}, err
			}
			if rows, err = r.Query(ctx, st.Page, st.PageArgs...); err != nil {
				return directory.UserPage{}, err
			}
			if page, changes, err = ReadUserPage(rows, &st, q.Groups); err != nil {
				return directory.UserPage{}, err
			}
		}
		if n := len(page.Users); inOrder && n > 0 {
			end := Position{Key: page.Keys[n-1], ID: page.Users[n-1].ID, Changes: changes}
			if err := positions.Keep(ctx, tenantID, start-1+n, end, prev); err != nil {
				return directory.UserPage{}, fmt.Errorf("keep the position: %w", err)
			}
		}
		if len(page.Users) > 0 || st.Exact {
			return page, nil
		}
	}
	// No page asked for, or past the last user: the total alone.
	if err := r.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&page.Total); err != nil {
		return directory.UserPage{}, err
	}
	return page, nil
}
