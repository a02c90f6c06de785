package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Part is one piece of a multipart upload (an S3 part, an Azure block). Its
// body is seekable so that an SDK can send it again on a retry.
type Part struct {
	Num  int // from 1
	Body io.ReadSeeker
	Size int64
	buf  *Buffer
	bufs *Buffers
}

// Done returns the part's memory, if it has any, for the next part.
func (p *Part) Done() {
	if p.bufs != nil {
		p.bufs.Put(p.buf)
		p.bufs = nil
	}
}

// SendParts calls send for every part next yields (until io.EOF), with at
// most workers sends at once, and returns the total size. It stops at the
// first error, of next or of a send, waits for the sends under way, and
// returns that error. Each part is Done once its send returns.
func SendParts(ctx context.Context, workers int, next func() (*Part, error), send func(ctx context.Context, p *Part) error) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, max(workers, 1))
		total int64
	)
	for {
		p, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cancel(err)
			break
		}
		total += p.Size
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			p.Done()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer p.Done()
			if err := send(ctx, p); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return total, context.Cause(ctx)
}

// FileParts yields the parts of size bytes of f as sections read straight
// from the file, partSize each (the last may be shorter).
func FileParts(f io.ReaderAt, size, partSize int64) func() (*Part, error) {
	var off int64
	num := 0
	return func() (*Part, error) {
		if off >= size {
			return nil, io.EOF
		}
		n := min(partSize, size-off)
		num++
		p := &Part{Num: num, Body: io.NewSectionReader(f, off, n), Size: n}
		off += n
		return p, nil
	}
}

// StreamParts yields a stream cut into parts as it arrives, in buffers
// from bufs; partSize gives the size of part num. head, already read from
// the stream, starts the first part. Memory is bounded by the buffers the
// limit of bufs lets out at once.
func StreamParts(ctx context.Context, r io.Reader, head []byte, bufs *Buffers, partSize func(num int) int64) func() (*Part, error) {
	num := 0
	eof := false
	return func() (*Part, error) {
		if eof {
			return nil, io.EOF
		}
		num++
		b := bufs.Get(partSize(num))
		filled := copy(b.B, head)
		head = head[filled:]
		n, err := ReadFull(ctx, r, b.B[filled:])
		n += filled
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
			if n == 0 {
				bufs.Put(b)
				return nil, io.EOF
			}
		case err != nil:
			bufs.Put(b)
			return nil, err
		}
		b.B = b.B[:n]
		return &Part{Num: num, Body: bytes.NewReader(b.B), Size: int64(n), buf: b, bufs: bufs}, nil
	}
}

// ReadFull fills b from r like io.ReadFull, checking ctx between reads of
// at most BufferSize.
func ReadFull(ctx context.Context, r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(b[n:min(len(b), n+BufferSize)])
		n += m
		if err == io.EOF {
			if n == 0 {
				return 0, io.EOF
			}
			return n, io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Buffer is a part's memory.
type Buffer struct{ B []byte }

// BufferPool keeps part buffers of one size between uploads.
type BufferPool struct {
	size int64
	pool sync.Pool
}

// NewBufferPool returns a pool of buffers of size bytes.
func NewBufferPool(size int64) *BufferPool { return &BufferPool{size: size} }

// Limit returns a view of the pool for one upload that lets out at most n
// buffers at once: Get blocks until one is Put back. Within the upload the
// buffers are reused from its own free list, so it allocates at most n and
// makes no garbage for the collector to lag behind on.
func (p *BufferPool) Limit(n int) *Buffers {
	if n < 1 {
		panic(fmt.Sprintf("transfer: Limit(%d)", n))
	}
	return &Buffers{p: p, slots: make(chan struct{}, n)}
}

// Buffers hands out an upload's part buffers.
type Buffers struct {
	p     *BufferPool
	slots chan struct{}
	mu    sync.Mutex
	free  []*Buffer
}

// Get returns a buffer of n bytes, waiting while the limit is reached.
func (l *Buffers) Get(n int64) *Buffer {
	l.slots <- struct{}{}
	l.mu.Lock()
	for i, b := range l.free {
		if int64(cap(b.B)) >= n {
			l.free = slices.Delete(l.free, i, i+1)
			l.mu.Unlock()
			b.B = b.B[:n]
			return b
		}
	}
	l.mu.Unlock()
	if n <= l.p.size {
		if b, ok := l.p.pool.Get().(*Buffer); ok {
			b.B = b.B[:n]
			return b
		}
		return &Buffer{B: make([]byte, n, l.p.size)}
	}
	return &Buffer{B: make([]byte, n)}
}

// Put gives a buffer back.
func (l *Buffers) Put(b *Buffer) {
	l.mu.Lock()
	l.free = append(l.free, b)
	l.mu.Unlock()
	<-l.slots
}

// Release hands the upload's buffers back to the pool for later uploads.
// Call it once every buffer was Put back.
func (l *Buffers) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.free {
		if int64(cap(b.B)) == l.p.size {
			l.p.pool.Put(b)
		}
	}
	l.free = nil
}
