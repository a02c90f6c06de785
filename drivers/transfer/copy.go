package transfer

import (
	"context"
	"io"
	"os"
	"sync"
)

// BufferSize is the size of the buffers Copy moves data with. 1 MiB is
// where loopback and disk throughput stop improving; io.Copy's 32 KiB
// halves download speed.
const BufferSize = 1 << 20

// kernelChunk is how much one kernel file-to-file copy moves before Copy
// checks the context and reports progress.
const kernelChunk = 8 << 20

var buffers = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// GetBuffer returns a BufferSize buffer from a shared pool; PutBuffer
// returns it.
func GetBuffer() *[]byte { return buffers.Get().(*[]byte) }

// PutBuffer returns a buffer GetBuffer gave.
func PutBuffer(b *[]byte) { buffers.Put(b) }

// Copy copies src to dst until EOF and returns the bytes copied. It stops
// with ctx's error when ctx ends, and calls progress (when not nil) with the
// running total after each buffer. From an *os.File to a writer that has
// ReadFrom (another file, a socket) it lets the kernel copy, in chunks so
// that cancellation and progress still work.
func Copy(ctx context.Context, dst io.Writer, src io.Reader, progress func(done int64)) (int64, error) {
	var done int64
	if f, ok := src.(*os.File); ok {
		if _, ok := dst.(io.ReaderFrom); ok {
			for {
				if err := ctx.Err(); err != nil {
					return done, err
				}
				n, err := io.CopyN(dst, f, kernelChunk)
				done += n
				if n > 0 && progress != nil {
					progress(done)
				}
				if err == io.EOF {
					return done, nil
				}
				if err != nil {
					return done, err
				}
			}
		}
	}
	bp := GetBuffer()
	defer PutBuffer(bp)
	buf := *bp
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return done, err
			}
			done += int64(n)
			if progress != nil {
				progress(done)
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return done, nil
		default:
			return done, rerr
		}
	}
}

// CopyHashed is Copy computing sums of what it copies on another
// goroutine, so that on two cores hashing overlaps reading and writing
// instead of adding to them. It holds two pooled buffers; a stream that
// ends within the first is hashed in line, with no goroutine.
func CopyHashed(ctx context.Context, dst io.Writer, src io.Reader, sums Sum, progress func(done int64)) (int64, *Hasher, error) {
	h := NewHasher(sums)
	var bufs [2]*[]byte
	for i := range bufs {
		bufs[i] = GetBuffer()
		defer PutBuffer(bufs[i])
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	var done int64
	write := func(p []byte) error {
		if _, err := dst.Write(p); err != nil {
			return err
		}
		done += int64(len(p))
		if progress != nil {
			progress(done)
		}
		return nil
	}
	n, rerr := io.ReadFull(src, *bufs[0])
	switch rerr {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		h.Write((*bufs[0])[:n])
		if n > 0 {
			if err := write((*bufs[0])[:n]); err != nil {
				return done, nil, err
			}
		}
		return done, h, nil
	default:
		return 0, nil, rerr
	}
	// free[i] is signalled when buffer i is hashed and may be refilled.
	type job struct{ i, n int }
	jobs := make(chan job, 1)
	var free [2]chan struct{}
	for i := range free {
		free[i] = make(chan struct{}, 1)
	}
	free[1] <- struct{}{}
	go func() {
		for j := range jobs {
			h.Write((*bufs[j.i])[:j.n])
			free[j.i] <- struct{}{}
		}
	}()
	finish := func() {
		close(jobs)
		for i := range free {
			<-free[i]
		}
	}
	for i := 0; ; i ^= 1 {
		// Buffer i holds n bytes, read before the loop or at its end.
		jobs <- job{i, n}
		if err := write((*bufs[i])[:n]); err != nil {
			finish()
			return done, nil, err
		}
		if rerr != nil {
			finish()
			return done, h, nil
		}
		if err := ctx.Err(); err != nil {
			finish()
			return done, nil, err
		}
		<-free[i^1]
		n, rerr = io.ReadFull(src, *bufs[i^1])
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			if n == 0 {
				free[i^1] <- struct{}{}
				finish()
				return done, h, nil
			}
		default:
			free[i^1] <- struct{}{}
			finish()
			return done, nil, rerr
		}
	}
}
