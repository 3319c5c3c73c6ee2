package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/password"
)

// The memory of `scimd serve` as the README documents it (the
// --hash-slots row, and docs/operations.md): about serveBaseMemory
// + 2 × slots × 19 MiB + requestMemory per open request.
//
// The hashes count twice: each one allocates its 19 MiB afresh and drops
// it when done, and the collector lets the heap grow past what was live
// at its last collection before it collects again, so the memory of
// finished hashes stays until then. serve runs the collector with GOGC=400
// and a soft memory limit of serveBaseMemory + 2 × slots × 19 MiB
// (gcSettings), which holds that part of the bound.
const (
	// requestMemory is what an open request costs: its goroutine's stack,
	// the connection's read and write buffers, the parsed request and its
	// decoded body. A GODEBUG=gctrace=1 run showed about 37 KiB live per
	// request (21 MB of heap and 16 MB of stacks for 1,000), which the
	// collector's headroom makes about 60 KiB; going from 100 to 1,000
	// concurrent writes raised the peak by 75 to 100 KiB per request.
	requestMemory = 100 << 10
)

// TestHashQueueMemoryBound sends 1,000 concurrent password writes to the
// real binary hashing with the real argon2id parameters, two slots and a
// queue of 64: each is answered 201, or 503 with a whole-number
// Retry-After and a SCIM error; every 503 is the hashing pool's (its
// refusal counter says as many); the users stored are exactly the 201s;
// everything admitted finishes (at least slots + queue 201s) and the
// queue is bounded (some 503s); and, on Linux, the process's peak
// resident memory (VmHWM) stays within the documented bound.
func TestHashQueueMemoryBound(t *testing.T) {
	if raceDetector() {
		t.Skip("the race detector multiplies memory and time; .ci/run runs this test without -race")
	}
	const slots, queue, n = 2, 64, 1000
	hashMemory := uint64(password.DefaultParams().Memory) << 10
	bound := serveBaseMemory + 2*slots*hashMemory + n*requestMemory
	linux := runtime.GOOS == "linux"
	eachDB(t, func(t *testing.T, db string) {
		r := startReplica(t, db, "--hash-slots", strconv.Itoa(slots), "--hash-queue", strconv.Itoa(queue), "--rate-limit", "0")
		var idle uint64
		if linux {
			idle = peakRSS(t, r.cmd.Process.Pid)
		}

		const errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
		var (
			mu               sync.Mutex
			created, refused int
			createdWithoutID int
			badRefusals      int
			firstBad         string
			wg               sync.WaitGroup
			start            = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"writer%04d@example.com","password":"correct horse battery staple %04d"}`, i, i)
				<-start
				status, h, doc := r.call(t, http.MethodPost, "/scim/v2/Users", r.token, body)
				mu.Lock()
				defer mu.Unlock()
				switch status {
				case 0: // r.call reported the failure
				case http.StatusCreated:
					created++
					if id, _ := doc["id"].(string); id == "" {
						createdWithoutID++
					}
				case http.StatusServiceUnavailable:
					refused++
					schemas, _ := doc["schemas"].([]any)
					detail, _ := doc["detail"].(string)
					retry, err := strconv.Atoi(h.Get("Retry-After"))
					if err != nil || retry < 1 || !slices.Contains(schemas, any(errorSchema)) || doc["status"] != "503" || detail == "" {
						if badRefusals++; firstBad == "" {
							firstBad = fmt.Sprintf("Retry-After %q, body %v", h.Get("Retry-After"), doc)
						}
					}
				default:
					t.Errorf("write %d = %d %v, want 201 or 503", i, status, doc)
				}
			})
		}
		began := time.Now()
		close(start)
		wg.Wait()
		elapsed := time.Since(began)

		if badRefusals > 0 {
			t.Errorf("%d of %d 503s lack a whole-number Retry-After or a SCIM error; the first: %s", badRefusals, refused, firstBad)
		}
		if createdWithoutID > 0 {
			t.Errorf("%d 201s without an id", createdWithoutID)
		}
		if pool := hashRefusals(t, r); pool != refused {
			t.Errorf("scimd_password_hash_refused_total = %d, want the %d 503s: every refusal the hashing pool's", pool, refused)
		}
		status, _, doc := r.call(t, http.MethodGet, "/scim/v2/Users?count=0", r.token, "")
		if total, _ := doc["totalResults"].(float64); status != http.StatusOK || int(total) != created {
			t.Errorf("GET /Users?count=0 = %d, totalResults %v; want the %d users answered 201", status, doc["totalResults"], created)
		}
		// A refusal means slots + queue writes were admitted at that moment,
		// and each of them must end in a 201; without a refusal all were.
		if created < slots+queue {
			t.Errorf("%d writes answered 201, want at least slots + queue = %d: an admitted write was dropped", created, slots+queue)
		}
		if refused == 0 {
			t.Errorf("all %d writes were admitted: the queue of %d did not bound them", n, queue)
		}
		t.Logf("%d concurrent password writes in %v: %d answered 201, %d answered 503", n, elapsed.Round(time.Millisecond), created, refused)

		if !linux {
			t.Skip("peak resident memory is read from /proc/<pid>/status (VmHWM), Linux only")
		}
		peak := peakRSS(t, r.cmd.Process.Pid)
		t.Logf("peak resident memory %.1f MiB (idle %.1f MiB), bound %.1f MiB = %d MiB + 2 × %d slots × %d MiB + %d requests × %d KiB",
			mib(peak), mib(idle), mib(bound), serveBaseMemory>>20, slots, hashMemory>>20, n, requestMemory>>10)
		if peak > bound {
			t.Errorf("peak resident memory %.1f MiB is above the documented bound of %.1f MiB", mib(peak), mib(bound))
		}
	})
}

// raceDetector reports whether this binary was built with -race.
func raceDetector() bool {
	info, ok := debug.ReadBuildInfo()
	return ok && slices.Contains(info.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
}

// peakRSS returns the peak resident memory of process pid in bytes: VmHWM
// in /proc/<pid>/status.
func peakRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kib << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status (%v)", pid, lines.Err())
	return 0
}

// hashRefusals returns scimd_password_hash_refused_total from r's
// /metrics.
func hashRefusals(t *testing.T, r *replica) int {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "scimd_password_hash_refused_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("scimd_password_hash_refused_total %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no scimd_password_hash_refused_total in /metrics (%v)", lines.Err())
	return 0
}

// mib returns bytes in MiB.
func mib(bytes uint64) float64 { return float64(bytes) / (1 << 20) }
