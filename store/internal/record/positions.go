package record

import (
	"context"
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

// Positions remembers where recent pages of users in creation order ended,
// by tenant and number of users before the next page. An identity
// provider's import asks for startIndex 1, 101, 201 and so on, each page
// after the one before: with the positions, every page costs what the
// first does, where an offset skips more users with every page (at a
// million users, half a second a page halfway through on PostgreSQL). The
// zero value is ready to use; a store keeps one for its process. A
// position another replica or process made stale is found so by its
// changes, in the statement that uses it.
type Positions struct {
	mu sync.Mutex
	m  map[positionKey]Position
}

type positionKey struct {
	tenantID string
	n        int // the users before the next page
}

// maxPositions bounds what Positions keeps: a position a page, of every
// import under way at once and of pages asked again.
const maxPositions = 4096

func (p *Positions) at(tenantID string, n int) *Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.m[positionKey{tenantID, n}]
	if !ok {
		return nil
	}
	return &pos
}

func (p *Positions) put(tenantID string, n int, pos Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[positionKey]Position{}
	}
	k := positionKey{tenantID, n}
	if _, ok := p.m[k]; !ok && len(p.m) >= maxPositions {
		for old := range p.m { // one of them, as the map's order has it
			delete(p.m, old)
			break
		}
	}
	p.m[k] = pos
}

// Query runs a read of a store's dialect with ? placeholders; QueryRow
// one of a single row.
type (
	Query    func(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow func(ctx context.Context, sql string, args ...any) Row
)

// ListUsers returns a page of the tenant's users matching q in q.Sort
// order, and the number that matched; with q.Groups, their groups. The
// total, the page and the groups come from one statement, so they agree.
// A page of the users in creation order starts after the position
// positions holds for it when the tenant's users are still those the
// position was read with, and otherwise skips q.StartIndex-1 users; it
// leaves its own end in positions for the page after it.
func ListUsers(ctx context.Context, d *Dialect, positions *Positions, tenantID string, q directory.UserQuery, groupsColumn string, query Query, queryRow QueryRow) (directory.UserPage, error) {
	start := max(q.StartIndex, 1)
	inOrder := q.Filter == nil && q.Sort == nil && q.After == nil
	var resume *Position
	if inOrder && start > 1 && q.Count > 0 {
		resume = positions.at(tenantID, start-1)
	}
	st, err := UserList(d, tenantID, q, resume, groupsColumn)
	if err != nil {
		return directory.UserPage{}, err
	}
	var page directory.UserPage
	if q.Count > 0 {
		rows, err := query(ctx, st.Page, st.PageArgs...)
		if err != nil {
			return directory.UserPage{}, err
		}
		var changes int64
		if page, changes, err = ReadUserPage(rows, &st, q.Groups); err != nil {
			return directory.UserPage{}, err
		}
		if resume != nil && (len(page.Users) == 0 || changes != resume.Changes) {
			// Users were created or deleted since the position was read
			// (or none follow it): skip as many as asked instead.
			if st, err = UserList(d, tenantID, q, nil, groupsColumn); err != nil {
				return directory.UserPage{}, err
			}
			if rows, err = query(ctx, st.Page, st.PageArgs...); err != nil {
				return directory.UserPage{}, err
			}
			if page, changes, err = ReadUserPage(rows, &st, q.Groups); err != nil {
				return directory.UserPage{}, err
			}
		}
		if n := len(page.Users); inOrder && n > 0 {
			positions.put(tenantID, start-1+n, Position{Key: page.Keys[n-1], ID: page.Users[n-1].ID, Changes: changes})
		}
		if len(page.Users) > 0 || st.Exact {
			return page, nil
		}
	}
	// No page asked for, or past the last user: the total alone.
	if err := queryRow(ctx, st.Count, st.CountArgs...).Scan(&page.Total); err != nil {
		return directory.UserPage{}, err
	}
	return page, nil
}
