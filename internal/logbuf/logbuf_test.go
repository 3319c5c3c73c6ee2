package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher goroutine and the test.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWriterBatchesAndKeepsLinesWhole(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Hour) // only Close flushes
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "goroutine %d line %d %s\n", g, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		var g, i int
		var tail string
		if n, err := fmt.Sscanf(l, "goroutine %d line %d %s", &g, &i, &tail); n != 3 || err != nil || len(tail) != 40 {
			t.Fatalf("torn line %q", l)
		}
	}
	if out.writes >= 8*500/10 {
		t.Errorf("%d writes reached the stream for %d lines, want batching", out.writes, 8*500)
	}
}

func TestWriterFlushesInTheBackground(t *testing.T) {
	var out lockedBuffer
	w := New(&out, 5*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "hello")
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "hello\n" {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the stream holds %q, want the line flushed by the ticker", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterPassesLargeWritesThrough(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Hour)
	fmt.Fprint(w, "small\n")
	big := strings.Repeat("y", bufferSize*2) + "\n"
	fmt.Fprint(w, big)
	if got := out.String(); got != "small\n"+big {
		t.Fatalf("stream holds %d bytes, want the small line then the big one (%d bytes) before any flush", len(got), len("small\n"+big))
	}
	w.Close()
}
