package transfer

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// FetchRange writes the n bytes of an object from offset off to w, and
// returns how many it wrote.
type FetchRange func(ctx context.Context, off, n int64, w io.Writer) (int64, error)

// RangeDownload describes a download of an object in ranges fetched
// concurrently, each written straight into a File where it belongs.
type RangeDownload struct {
	Size    int64      // the object's size
	Chunk   int64      // bytes per range
	Workers int        // ranges fetched at once
	Fetch   FetchRange // fetches one range
	// Want, when it names a sum, is checked over the whole content: each
	// range is hashed, in order, from the file once written, so hashing
	// overlaps the transfer of later ranges.
	Want Want
	// Progress, when set, hears of the bytes written so far, from one
	// goroutine at a time.
	Progress func(done int64)
	// ChunkSums, when set, are computed over each chunk once it is written
	// (from the file, on the worker that fetched it, so in parallel) and
	// handed to ChunkDone: what a multipart ETag is checked with.
	ChunkSums Sum
	ChunkDone func(k int64, h *Hasher) error
}

// Run downloads into f, which it sizes first. It returns the first error
// of any range and stops the others; the caller then closes f, leaving
// nothing behind.
func (d RangeDownload) Run(ctx context.Context, f *File) error {
	if d.Chunk <= 0 || d.Workers <= 0 {
		return fmt.Errorf("transfer: RangeDownload needs a positive Chunk and Workers")
	}
	if err := f.Truncate(d.Size); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := (d.Size + d.Chunk - 1) / d.Chunk
	var (
		next     atomic.Int64 // the next chunk to fetch
		done     atomic.Int64 // bytes written
		progMu   sync.Mutex
		hasher   *Hasher
		hashTurn = newTurns()
	)
	if d.Want.Sums() != 0 {
		hasher = NewHasher(d.Want.Sums())
	}
	worker := func() error {
		for {
			k := next.Add(1) - 1
			if k >= chunks {
				return nil
			}
			off := k * d.Chunk
			n := min(d.Chunk, d.Size-off)
			if err := d.fetch(ctx, f, off, n); err != nil {
				return err
			}
			f.StartWriteback(off, n)
			if d.ChunkSums != 0 {
				h := NewHasher(d.ChunkSums)
				if _, err := Copy(ctx, h, io.NewSectionReader(f.f, off, n), nil); err != nil {
					return err
				}
				if err := d.ChunkDone(k, h); err != nil {
					return err
				}
			}
			if d.Progress != nil {
				total := done.Add(n)
				progMu.Lock()
				d.Progress(total)
				progMu.Unlock()
			}
			if hasher != nil {
				// Chunks are taken in order, so the ones before k are all
				// being fetched and this wait ends.
				if !hashTurn.wait(k) {
					return nil
				}
				_, err := Copy(ctx, hasher, io.NewSectionReader(f.f, off, n), nil)
				hashTurn.done(k)
				if err != nil {
					return err
				}
			}
		}
	}
	var wg sync.WaitGroup
	for range min(int64(d.Workers), max(chunks, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker(); err != nil {
				cancel(err)
			}
			if ctx.Err() != nil {
				hashTurn.abort() // no one waits for a chunk never hashed
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if hasher != nil {
		return hasher.Check(d.Want)
	}
	return nil
}

// fetch fetches one range into f. When the connection fails part way it
// asks again for the bytes not yet received, not for the whole range.
func (d RangeDownload) fetch(ctx context.Context, f *File, off, n int64) error {
	w := &offsetWriter{f: f, off: off, end: off + n}
	var done int64
	for stalls := 0; ; {
		got, err := d.Fetch(ctx, off+done, n-done, w)
		done += got
		if err == nil && done < n {
			err = fmt.Errorf("%w: range at %d gave %d of %d bytes", io.ErrUnexpectedEOF, off, done, n)
		}
		if err == nil {
			return nil
		}
		if got > 0 {
			stalls = 0
		}
		if !Transient(err) || stalls >= maxStalls {
			return err
		}
		if err := backoff(ctx, stalls); err != nil {
			return err
		}
		stalls++
	}
}

// offsetWriter writes sequentially into a file from an offset, refusing
// to write past end.
type offsetWriter struct {
	f        *File
	off, end int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.end-w.off {
		return 0, fmt.Errorf("transfer: range longer than asked for")
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// turns lets goroutines take turns in the order of their numbers.
type turns struct {
	mu      sync.Mutex
	cond    *sync.Cond
	next    int64
	aborted bool
}

func newTurns() *turns {
	t := &turns{}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// wait blocks until it is k's turn, or returns false once aborted.
func (t *turns) wait(k int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.next != k && !t.aborted {
		t.cond.Wait()
	}
	return !t.aborted
}

func (t *turns) done(k int64) {
	t.mu.Lock()
	t.next = k + 1
	t.cond.Broadcast()
	t.mu.Unlock()
}

func (t *turns) abort() {
	t.mu.Lock()
	t.aborted = true
	t.cond.Broadcast()
	t.mu.Unlock()
}
