package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client speaks just enough SCIM for the scenarios.
type client struct {
	base  string
	auth  string
	httpc *http.Client
}

func newClient(base, token string, conns int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	return &client{
		base:  strings.TrimSuffix(base, "/") + "/scim/v2",
		auth:  "Bearer " + token,
		httpc: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

func (c *client) do(ctx context.Context, method, path string, body []byte, into any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if buf, ok := into.(*bytes.Buffer); ok {
		_, err := buf.ReadFrom(resp.Body)
		return resp.StatusCode, err
	}
	if into != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
		return resp.StatusCode, nil
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// close releases the client's idle connections.
func (c *client) close() { c.httpc.CloseIdleConnections() }

func (c *client) getUser(ctx context.Context, id string) (int, error) {
	return c.do(ctx, http.MethodGet, "/Users/"+id, nil, nil)
}

func userBody(userName string) []byte {
	b, _ := json.Marshal(map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"externalId":  "ext-" + userName,
		"displayName": "Load Test User",
		"name":        map[string]string{"givenName": "Load", "familyName": "User"},
		"emails":      []map[string]any{{"value": userName, "type": "work", "primary": true}},
		"active":      true,
	})
	return b
}

func (c *client) createUser(ctx context.Context, userName string) (int, error) {
	return c.do(ctx, http.MethodPost, "/Users", userBody(userName), nil)
}

type listResponse struct {
	TotalResults int        `json:"totalResults"`
	NextCursor   string     `json:"nextCursor"`
	Resources    []resource `json:"Resources"`
}

// resource is what the scenarios read of a user.
type resource struct {
	ID         string `json:"id"`
	UserName   string `json:"userName"`
	ExternalID string `json:"externalId"`
	Emails     []struct {
		Value string `json:"value"`
		Type  string `json:"type"`
	} `json:"emails"`
}

// workEmail is the user's first work email, or "".
func (r resource) workEmail() string {
	for _, e := range r.Emails {
		if e.Type == "work" {
			return e.Value
		}
	}
	return ""
}

// find runs GET /Users?filter=... and fails unless it finds exactly one
// user. It looks for "totalResults":1 in the body rather than decode it,
// to spend the shared CPU on the server.
func (c *client) find(ctx context.Context, filter string) (int, error) {
	var body bytes.Buffer
	status, err := c.do(ctx, http.MethodGet, "/Users?filter="+url.QueryEscape(filter), nil, &body)
	if err == nil && status == http.StatusOK && !bytes.Contains(body.Bytes(), []byte(`"totalResults":1,`)) {
		err = fmt.Errorf("filter %s did not find exactly one user: %.200s", filter, body.String())
	}
	return status, err
}

func (c *client) total(ctx context.Context) (int, error) {
	var lr listResponse
	status, err := c.do(ctx, http.MethodGet, "/Users?count=0", nil, &lr)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET /Users?count=0: status %d", status)
	}
	return lr.TotalResults, err
}

// sample reads up to n users, 1,000 a page.
func (c *client) sample(ctx context.Context, n int) ([]resource, error) {
	var users []resource
	for start := 1; len(users) < n; start += 1000 {
		var lr listResponse
		status, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=1000", start), nil, &lr)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET /Users: status %d", status)
		}
		users = append(users, lr.Resources...)
		if len(lr.Resources) < 1000 {
			break
		}
	}
	return users, nil
}

// preload creates users until the tenant has at least n.
func (c *client) preload(ctx context.Context, n, conns int) (int, error) {
	have, err := c.total(ctx)
	if err != nil {
		return 0, err
	}
	missing := n - have
	if missing <= 0 {
		return 0, nil
	}
	run := time.Now().UnixNano()
	ctx, cancel := context.WithCancel(ctx) // the first failure stops every worker
	defer cancel()
	var next, added atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(missing) || ctx.Err() != nil {
					return
				}
				status, err := c.createUser(ctx, fmt.Sprintf("preload-%d-%d@example.com", run, i))
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("preload: POST /Users: status %d", status)
				}
				if err != nil {
					errs <- err
					cancel()
					return
				}
				added.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return int(added.Load()), err
	}
	return int(added.Load()), ctx.Err()
}
