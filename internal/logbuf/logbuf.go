// Package logbuf batches log output: a Writer collects whole lines in
// memory and writes them to the underlying stream at most every interval,
// when the buffer fills, and on Close, so that a busy server does not pay
// one write system call per log line. It imports only the standard library
// and knows nothing of log formats.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// bufferSize is the largest amount of log output held before a write.
const bufferSize = 64 << 10

// Writer is an io.Writer that buffers and flushes in the background. It is
// safe for concurrent use; each Write call reaches the stream whole.
type Writer struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Writer to w that flushes every interval until Close.
func New(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{
		buf:  bufio.NewWriterSize(w, bufferSize),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go b.flushEvery(interval)
	return b
}

// Write buffers p. A p larger than the free space first flushes what is
// buffered; one larger than the buffer goes straight to the stream.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.buf.Available() && b.buf.Buffered() > 0 {
		if err := b.buf.Flush(); err != nil {
			return 0, err
		}
	}
	return b.buf.Write(p)
}

// Flush writes what is buffered to the stream.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close stops the background flushing and flushes what is left. Writes
// after Close are buffered until the next Flush.
func (b *Writer) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.Flush()
}

func (b *Writer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush() // a failing stream fails the next Write too
		}
	}
}
