package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
)

// Bulk limits (RFC 7644 §3.7.4), advertised in the ServiceProviderConfig.
const (
	// MaxBulkOperations is the most operations one /Bulk request may hold.
	MaxBulkOperations = 1000
	// DefaultMaxBulkBytes is the largest /Bulk request body by default.
	DefaultMaxBulkBytes = 8 << 20
	// bulkWorkers is how many consecutive creates of a bulk run at once:
	// enough for the SQLite writer to commit them in groups.
	bulkWorkers = 32
)

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// bulkOp is one operation of a bulk request, and its outcome.
type bulkOp struct {
	Method  string `json:"method"`
	BulkID  string `json:"bulkId,omitempty"`
	Version string `json:"version,omitempty"`
	Path    string `json:"path,omitempty"`
	Data    any    `json:"data,omitempty"`

	refs   []string // bulkIds the path and data refer to
	result *bulkResult
}

// bulkResult is an operation's entry of the BulkResponse.
type bulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`

	scimType, detail string // of a failure answered here, for the request log
}

// bulkPath is the path of an operation: a resource type's endpoint, or one
// resource of it by id or by "bulkId:" reference.
var bulkPath = regexp.MustCompile(`^/(Users|Groups)(/[^/]+)?$`)

// bulkRef finds "bulkId:<id>" references in strings; bulkRefURI finds
// them at the end of a $ref (".../Users/bulkId:<id>").
var (
	bulkRef    = regexp.MustCompile(`^bulkId:(.+)$`)
	bulkRefURI = regexp.MustCompile(`^(.*/(?:Users|Groups)/)bulkId:([^/]+)$`)
)

// bulk serves POST /Bulk (RFC 7644 §3.7). Each operation runs as its own
// request with the handler of its single-resource twin (run), so it obeys
// every rule of that twin and is audited and logged the same way, except that user
// creates without references go to the service together (createUsers),
// which applies the same rules and writes them in batches; operations are
// not one transaction, each is atomic. "bulkId:" references, in the path or
// anywhere in data (group members, manager), are replaced by the id the
// referenced POST created: an operation waits for the operations it
// refers to, so forward references work; a reference to a failed
// operation fails, and a cycle fails with 409. failOnErrors stops the
// bulk after that many failures. Consecutive creates without references
// run together (users batched, groups in bulkWorkers), unless failOnErrors
// is set.
//
// The rate limit comes after the size limits: a request over them (body
// bytes, or more than MaxBulkOperations operations) is answered 413 and
// costs nothing. Any other is admitted as one request (admit: 429 when the
// connection has nothing left) and, once parsed, pays for its other
// operations, so that Bulk is no way around the rate limit.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readObject(r)
	if err == nil {
		err = checkBulkSize(doc)
	}
	if directory.KindOf(err) == directory.KindTooLarge {
		h.writeError(w, r, err)
		return
	}
	if !h.guard.Admit(w, r) {
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ops, failOnErrors, err := parseBulk(doc)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context()).Principal
	if err := h.guard.Limiter.Charge(r.Context(), p.Tenant.ID, p.Token.ID, len(ops)-1); err != nil {
		h.log.WarnContext(r.Context(), "rate limit: charging a bulk request failed", "request_id", exchange.Of(r.Context()).RequestID, "err", err)
	}
	run := bulkRun{h: h, outer: r, ids: map[string]string{}, failed: map[string]bool{}}
	run.execute(ops, failOnErrors)
	resp := struct {
		Schemas    []string      `json:"schemas"`
		Operations []*bulkResult `json:"Operations"`
	}{Schemas: []string{bulkResponseURN}, Operations: []*bulkResult{}}
	for _, op := range ops {
		if op.result != nil {
			resp.Operations = append(resp.Operations, op.result)
		}
	}
	h.writeJSON(w, r, http.StatusOK, contentType, resp)
}

// parseBulk reads a BulkRequest: its schema, failOnErrors, and at most
// MaxBulkOperations operations, each with a known method, a path the method
// fits, a bulkId on every POST (unique in the request) and data where the
// method needs it.
func parseBulk(doc map[string]any) ([]*bulkOp, int, error) {
	list, _ := doc["schemas"].([]any)
	if len(list) != 1 || !strings.EqualFold(asString(list[0]), bulkRequestURN) {
		return nil, 0, syntaxError("a bulk request has the schema %s", bulkRequestURN)
	}
	failOnErrors := 0
	if v, ok := doc["failOnErrors"]; ok {
		n, isNum := v.(json.Number)
		i, err := strconv.Atoi(string(n))
		if !isNum || err != nil || i < 0 {
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "failOnErrors", "failOnErrors must be a non-negative integer")
		}
		failOnErrors = i
	}
	raw, ok := doc["Operations"].([]any)
	if !ok {
		return nil, 0, syntaxError("a bulk request has an Operations array")
	}
	if err := checkBulkSize(doc); err != nil {
		return nil, 0, err
	}
	ops := make([]*bulkOp, 0, len(raw))
	bulkIDs := map[string]bool{}
	for i, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, 0, syntaxError("operation %d is not an object", i+1)
		}
		op := &bulkOp{Method: strings.ToUpper(asString(m["method"])), BulkID: asString(m["bulkId"]),
			Version: asString(m["version"]), Path: asString(m["path"]), Data: m["data"]}
		match := bulkPath.FindStringSubmatch(op.Path)
		switch {
		case match == nil:
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "path", "operation %d: path %q is not /Users, /Groups or one of their resources", i+1, op.Path)
		case op.Method == http.MethodPost && match[2] != "":
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "path", "operation %d: POST goes to /Users or /Groups", i+1)
		case op.Method != http.MethodPost && op.Method != http.MethodPut && op.Method != http.MethodPatch && op.Method != http.MethodDelete:
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "method", "operation %d: method %q is not POST, PUT, PATCH or DELETE", i+1, asString(m["method"]))
		case op.Method != http.MethodPost && match[2] == "":
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "path", "operation %d: %s needs the path of one resource", i+1, op.Method)
		case op.Method == http.MethodPost && op.BulkID == "":
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "bulkId", "operation %d: a POST needs a bulkId", i+1)
		case op.Method == http.MethodPost && bulkIDs[op.BulkID]:
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "bulkId", "operation %d: bulkId %q is used twice", i+1, op.BulkID)
		case op.Method != http.MethodDelete && op.Data == nil:
			return nil, 0, directory.Errorf(directory.KindInvalidValue, "data", "operation %d: %s needs data", i+1, op.Method)
		}
		if op.Method == http.MethodPost {
			bulkIDs[op.BulkID] = true
		}
		op.refs = references(op.Path, op.Data)
		ops = append(ops, op)
	}
	return ops, failOnErrors, nil
}

// checkBulkSize refuses a BulkRequest of more than MaxBulkOperations
// operations (KindTooLarge).
func checkBulkSize(doc map[string]any) error {
	if raw, _ := doc["Operations"].([]any); len(raw) > MaxBulkOperations {
		return directory.Errorf(directory.KindTooLarge, "Operations", "a bulk request holds at most %d operations (maxOperations); this one has %d: split it", MaxBulkOperations, len(raw))
	}
	return nil
}

// references returns the bulkIds a path and data refer to.
func references(path string, data any) []string {
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if m := bulkRef.FindStringSubmatch(v); m != nil {
				refs = append(refs, m[1])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					if m := bulkRefURI.FindStringSubmatch(s); m != nil {
						refs = append(refs, m[2])
						continue
					}
				}
				walk(x)
			}
		}
	}
	walk(strings.TrimPrefix(strings.TrimPrefix(path, "/Users/"), "/Groups/"))
	walk(data)
	return refs
}

// bulkRun is the execution of one bulk request.
type bulkRun struct {
	h      *handler
	outer  *http.Request
	mu     sync.Mutex
	ids    map[string]string // bulkId → id of the created resource
	failed map[string]bool   // bulkIds whose POST failed
	errors int
}

// execute runs the operations in passes: each pass runs, in order, those
// whose references are all resolved; an operation that refers to a failed
// one fails; what is left when a pass makes no progress is a cycle.
func (b *bulkRun) execute(ops []*bulkOp, failOnErrors int) {
	pending := ops
	for len(pending) > 0 {
		var ready, waiting []*bulkOp
		for _, op := range pending {
			switch b.state(op) {
			case refsReady:
				ready = append(ready, op)
			case refsFailed:
				if failOnErrors > 0 && b.errors >= failOnErrors {
					return
				}
				b.record(op, bulkFailure(op, http.StatusConflict, "invalidValue", "it refers to an operation of this bulk that failed"))
			default:
				waiting = append(waiting, op)
			}
		}
		if len(ready) == 0 {
			for _, op := range waiting {
				op.result = bulkFailure(op, http.StatusConflict, "invalidValue", "its bulkId references cannot be resolved (a cycle, or a bulkId no POST of this request defines)")
			}
			return
		}
		for i := 0; i < len(ready); {
			if failOnErrors > 0 && b.errors >= failOnErrors {
				return
			}
			// A run of creates without references goes at once: the users
			// in one service call, the groups in parallel.
			j := i + 1
			if failOnErrors == 0 && ready[i].Method == http.MethodPost && len(ready[i].refs) == 0 {
				for j < len(ready) && ready[j].Method == http.MethodPost && len(ready[j].refs) == 0 {
					j++
				}
			}
			var users, others []*bulkOp
			for _, op := range ready[i:j] {
				if op.Method == http.MethodPost && len(op.refs) == 0 && op.Path == "/Users" {
					users = append(users, op)
				} else {
					others = append(others, op)
				}
			}
			b.createUsers(users)
			b.parallel(others)
			i = j
		}
		pending = waiting
	}
}

type refState int

const (
	refsReady refState = iota
	refsWaiting
	refsFailed
)

func (b *bulkRun) state(op *bulkOp) refState {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ref := range op.refs {
		if b.failed[ref] {
			return refsFailed
		}
		if _, ok := b.ids[ref]; !ok {
			return refsWaiting
		}
	}
	return refsReady
}

// createUsers performs creates of users without references in one call of
// directory.Service.CreateUsers, which writes them in batches: the body of
// each goes through what POST /Users does to it (userBody), and each
// gets POST's outcome, audit event and entry in the request log.
func (b *bulkRun) createUsers(ops []*bulkOp) {
	if len(ops) == 0 {
		return
	}
	start := time.Now()
	r := b.outer
	ins := make([]directory.UserInput, 0, len(ops))
	valid := make([]*bulkOp, 0, len(ops))
	for _, op := range ops {
		in, err := b.userInput(op)
		if err != nil {
			b.record(op, b.failure(op, err))
			continue
		}
		ins, valid = append(ins, in), append(valid, op)
	}
	ex := stateOf(r.Context())
	users, errs := b.h.svc.CreateUsers(r.Context(), ex.Caller, ex.Principal.Tenant.ID, ins)
	base := b.h.base(r)
	// Each is logged as the POST /Users it stands for; they took the time
	// of the batch together.
	elapsed := time.Since(start) / time.Duration(len(ops))
	for i, op := range valid {
		if errs[i] != nil {
			b.record(op, b.failure(op, errs[i]))
			continue
		}
		b.mu.Lock()
		b.ids[op.BulkID] = users[i].ID
		b.mu.Unlock()
		b.record(op, &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(http.StatusCreated),
			Version: etag(users[i].Version), Location: userLocation(base, users[i].ID)})
	}
	for _, op := range ops {
		b.logCreate(op, start, elapsed)
	}
}

// logCreate adds a user create of the batch to the request log, as the
// server's middleware (exchange.Middleware.Serve) does for the other
// operations.
func (b *bulkRun) logCreate(op *bulkOp, start time.Time, elapsed time.Duration) {
	ex := exchange.Of(b.outer.Context())
	status, _ := strconv.Atoi(op.result.Status)
	b.h.svc.RecordRequest(directory.RequestRecord{
		TenantID: ex.Principal.Tenant.ID, Time: start.UTC(), TokenID: ex.Principal.Token.ID, TokenName: ex.Principal.Token.Name,
		Method: http.MethodPost, Path: basePath + "/Users", Status: status, SCIMType: op.result.scimType, Detail: op.result.detail,
		Duration: elapsed, RequestID: ex.RequestID,
	})
}

// userInput reads the data of a user create as POST /Users reads its body.
func (b *bulkRun) userInput(op *bulkOp) (directory.UserInput, error) {
	doc, ok := op.Data.(map[string]any)
	if !ok {
		return directory.UserInput{}, syntaxError("the data of a POST must be a JSON object")
	}
	var in directory.UserInput
	err := b.h.withUserSchemas(b.outer, func(us *userSchemas) error {
		var err error
		in, _, err = userBody(us, doc)
		return err
	})
	return in, err
}

// failure is the outcome of an operation that err failed: writeError's
// answer, written in an exchange of its own (the bulk request's is the
// bulk's).
func (b *bulkRun) failure(op *bulkOp, err error) *bulkResult {
	rec := newBulkWriter()
	ex := &exchange.Exchange{RequestID: exchange.Of(b.outer.Context()).RequestID}
	b.h.writeError(rec, exchange.With(b.outer, ex), err)
	return &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(rec.status), Response: rec.body.Bytes(),
		scimType: ex.ErrorType, detail: ex.Detail}
}

// parallel runs ops on up to bulkWorkers goroutines.
func (b *bulkRun) parallel(ops []*bulkOp) {
	switch len(ops) {
	case 0:
		return
	case 1:
		b.run(ops[0])
		return
	}
	next := make(chan *bulkOp)
	var wg sync.WaitGroup
	for range min(bulkWorkers, len(ops)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for op := range next {
				b.run(op)
			}
		}()
	}
	for _, op := range ops {
		next <- op
	}
	close(next)
	wg.Wait()
}

// run performs one operation with the handler of its single-resource
// twin, called directly as a request of its own with the bulk request's
// principal, caller and request id, and records its outcome. The request
// is served as the router serves its twin after authentication: logged,
// counted and audited the same (exchange.Middleware.Serve), its body
// limited (limitBody) and its projection read (project); the bulk request
// paid the rate limit for it.
func (b *bulkRun) run(op *bulkOp) {
	b.mu.Lock()
	path, data := b.resolvePath(op.Path), b.resolve(op.Data)
	b.mu.Unlock()
	var body []byte
	if data != nil {
		var err error
		if body, err = json.Marshal(data); err != nil {
			b.record(op, bulkFailure(op, http.StatusBadRequest, "invalidSyntax", "the data cannot be encoded"))
			return
		}
	}
	outer := exchange.Of(b.outer.Context())
	ex := &exchange.Exchange{RequestID: outer.RequestID, Principal: outer.Principal, Caller: outer.Caller, Recorded: true}
	req, err := http.NewRequestWithContext(b.outer.Context(), op.Method, basePath+path, bytes.NewReader(body))
	if err != nil {
		b.record(op, bulkFailure(op, http.StatusBadRequest, "invalidValue", "the path is not valid"))
		return
	}
	req.Header.Set("Content-Type", contentType)
	if op.Version != "" {
		req.Header.Set("If-Match", op.Version)
	}
	req.RemoteAddr, req.Host, req.TLS = b.outer.RemoteAddr, b.outer.Host, b.outer.TLS
	handler, pattern := b.h.bulkHandler(op.Method, path)
	rctx := chi.NewRouteContext()
	rctx.RoutePatterns = []string{pattern}
	if strings.HasSuffix(pattern, "{id}") {
		escaped := req.URL.EscapedPath() // as chi reads a path parameter
		rctx.URLParams.Add("id", escaped[strings.LastIndexByte(escaped, '/')+1:])
	}
	req = exchange.With(req.WithContext(context.WithValue(req.Context(), chi.RouteCtxKey, rctx)), ex)
	rec := newBulkWriter()
	b.h.requests.Serve(rec, req, handler)

	res := &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(rec.status), Version: rec.header.Get("ETag")}
	if rec.status >= 400 {
		res.Response = json.RawMessage(rec.body.Bytes())
		b.record(op, res)
		return
	}
	res.Location = rec.header.Get("Location")
	if op.Method == http.MethodPost {
		id, _ := url.PathUnescape(res.Location[strings.LastIndexByte(res.Location, '/')+1:])
		b.mu.Lock()
		b.ids[op.BulkID] = id
		b.mu.Unlock()
	}
	b.record(op, res)
}

// bulkHandler returns the handler of an operation (a method and a path
// parseBulk accepted), behind the middleware of its route that follows
// authentication, and its route pattern.
func (h *handler) bulkHandler(method, path string) (http.Handler, string) {
	users := strings.HasPrefix(path, "/Users")
	var serve http.HandlerFunc
	switch {
	case users && method == http.MethodPost:
		serve = h.createUser
	case users && method == http.MethodPut:
		serve = h.replaceUser
	case users && method == http.MethodPatch:
		serve = h.patchUser
	case users:
		serve = h.deleteUser
	case method == http.MethodPost:
		serve = h.createGroup
	case method == http.MethodPut:
		serve = h.replaceGroup
	case method == http.MethodPatch:
		serve = h.patchGroup
	default:
		serve = h.deleteGroup
	}
	schemaOf, pattern := h.groupSchemaOf, basePath+"/Groups"
	if users {
		schemaOf, pattern = h.userSchemaOf, basePath+"/Users"
	}
	if method != http.MethodPost {
		pattern += "/{id}"
	}
	return h.limitBody(h.project(schemaOf)(serve)), pattern
}

// bulkWriter holds the answer of one bulk operation.
type bulkWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBulkWriter() *bulkWriter { return &bulkWriter{header: http.Header{}} }

func (w *bulkWriter) Header() http.Header { return w.header }

func (w *bulkWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bulkWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// record stores an operation's outcome; a failed POST fails the
// operations that refer to it.
func (b *bulkRun) record(op *bulkOp, res *bulkResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	op.result = res
	if code, _ := strconv.Atoi(res.Status); code >= 400 {
		b.errors++
		if op.Method == http.MethodPost {
			b.failed[op.BulkID] = true
		}
	}
}

// resolve returns v with every "bulkId:" reference replaced by the id it
// stands for (the caller holds b.mu and has checked they are all known).
func (b *bulkRun) resolve(v any) any {
	switch v := v.(type) {
	case string:
		if m := bulkRef.FindStringSubmatch(v); m != nil {
			return b.ids[m[1]]
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = b.resolve(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				if m := bulkRefURI.FindStringSubmatch(s); m != nil {
					out[k] = m[1] + b.ids[m[2]]
					continue
				}
			}
			out[k] = b.resolve(x)
		}
		return out
	}
	return v
}

// resolvePath returns an operation's path with a "bulkId:" reference in
// place of the id replaced by the id it stands for (the caller holds b.mu).
func (b *bulkRun) resolvePath(path string) string {
	for _, prefix := range []string{"/Users/bulkId:", "/Groups/bulkId:"} {
		if ref, ok := strings.CutPrefix(path, prefix); ok {
			return strings.TrimSuffix(prefix, "bulkId:") + b.ids[ref]
		}
	}
	return path
}

// bulkFailure is the outcome of an operation that did not run or failed
// before reaching the router.
func bulkFailure(op *bulkOp, status int, scimType, detail string) *bulkResult {
	body, _ := json.Marshal(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":  strconv.Itoa(status), "scimType": scimType, "detail": "operation " + op.Method + " " + op.Path + ": " + detail,
	})
	return &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: strconv.Itoa(status), Response: body}
}
