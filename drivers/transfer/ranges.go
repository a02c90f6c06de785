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
	// ChunkSums, when set, are computed over each chunk as it is written
	// (on the worker that fetches it, so in parallel) and handed to
	// ChunkDone: what a multipart ETag is checked with.
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
		next   atomic.Int64 // the next chunk to fetch
		done   atomic.Int64 // bytes written
		progMu sync.Mutex
		fr     *frontier // only when the whole content is hashed
	)
	if d.Want.Sums() != 0 {
		fr = &frontier{chunk: d.Chunk, written: make([]atomic.Int64, chunks), wake: make(chan struct{}, 1)}
	}
	worker := func() error {
		for {
			k := next.Add(1) - 1
			if k >= chunks {
				return nil
			}
			off := k * d.Chunk
			n := min(d.Chunk, d.Size-off)
			h, err := d.fetch(ctx, f, k, off, n, fr)
			if err != nil {
				return err
			}
			f.StartWriteback(off, n)
			if h != nil {
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
		}
	}
	// The whole content's hash follows the bytes written from the start,
	// on a goroutine of its own, so it overlaps every range's transfer
	// and ends soon after the last byte lands.
	hashed := make(chan error, 1)
	var hasher *Hasher
	if fr != nil {
		hasher = NewHasher(d.Want.Sums())
		go func() { hashed <- fr.hash(ctx, f.f, d.Size, hasher) }()
	}
	var wg sync.WaitGroup
	for range min(int64(d.Workers), max(chunks, 1)) {
		wg.Go(func() {
			if err := worker(); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if hasher != nil {
			<-hashed
		}
		return err
	}
	if hasher != nil {
		if err := <-hashed; err != nil {
			return err
		}
		return hasher.Check(d.Want)
	}
	return nil
}

// frontier tracks how much of each chunk has been written, from its
// start, so that a hash can follow the content's written prefix.
type frontier struct {
	chunk   int64
	written []atomic.Int64
	wake    chan struct{} // a write happened
}

func (fr *frontier) wrote(k, n int64) {
	fr.written[k].Store(n)
	select {
	case fr.wake <- struct{}{}:
	default:
	}
}

// hash feeds h the file's bytes in order as they are written, until size.
func (fr *frontier) hash(ctx context.Context, f io.ReaderAt, size int64, h *Hasher) error {
	bp := GetBuffer()
	defer PutBuffer(bp)
	buf := *bp
	for pos := int64(0); pos < size; {
		k := pos / fr.chunk
		avail := k*fr.chunk + fr.written[k].Load()
		if avail <= pos {
			select {
			case <-fr.wake:
				continue
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		n, err := f.ReadAt(buf[:min(avail-pos, int64(len(buf)))], pos)
		h.Write(buf[:n])
		pos += int64(n)
		if err == io.EOF && n == 0 {
			return fmt.Errorf("transfer: the file ends at %d of %d bytes", pos, size)
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// fetch fetches one range into f. When the connection fails part way it
// asks again for the bytes not yet received, not for the whole range.
// It returns the chunk's ChunkSums, computed as the bytes are written.
func (d RangeDownload) fetch(ctx context.Context, f *File, k, off, n int64, fr *frontier) (*Hasher, error) {
	w := &offsetWriter{f: f, k: k, start: off, off: off, end: off + n, fr: fr}
	if d.ChunkSums != 0 {
		w.h = NewHasher(d.ChunkSums)
	}
	for stalls := 0; ; {
		before := w.off
		_, err := d.Fetch(ctx, w.off, off+n-w.off, w)
		// What was written counts, whatever Fetch reports: the writer
		// hashed it, and the next request starts after it.
		done := w.off - off
		if err == nil && done < n {
			err = fmt.Errorf("%w: range at %d gave %d of %d bytes", io.ErrUnexpectedEOF, off, done, n)
		}
		if err == nil {
			return w.h, nil
		}
		if w.off > before {
			stalls = 0
		}
		if !Transient(err) || stalls >= maxStalls {
			return nil, err
		}
		if err := backoff(ctx, stalls); err != nil {
			return nil, err
		}
		stalls++
	}
}

// offsetWriter writes sequentially into a file from an offset, refusing
// to write past end.
type offsetWriter struct {
	f               *File
	k               int64 // the chunk
	start, off, end int64
	fr              *frontier
	h               *Hasher // the chunk's sums, if asked for
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.end-w.off {
		return 0, fmt.Errorf("transfer: range longer than asked for")
	}
	n, err := w.f.WriteAt(p, w.off)
	if w.h != nil {
		w.h.Write(p[:n])
	}
	w.off += int64(n)
	if w.fr != nil {
		w.fr.wrote(w.k, w.off-w.start)
	}
	return n, err
}
