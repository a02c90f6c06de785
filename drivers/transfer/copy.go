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
// instead of adding to them. It holds two pooled buffers.
func CopyHashed(ctx context.Context, dst io.Writer, src io.Reader, sums Sum, progress func(done int64)) (int64, *Hasher, error) {
	h := NewHasher(sums)
	var bufs [2]*[]byte
	for i := range bufs {
		bufs[i] = GetBuffer()
		defer PutBuffer(bufs[i])
	}
	// hashed[i] is signalled when buffer i is hashed and free again.
	var hashed [2]chan struct{}
	type job struct {
		i int
		n int
	}
	jobs := make(chan job, 1)
	for i := range hashed {
		hashed[i] = make(chan struct{}, 1)
		hashed[i] <- struct{}{}
	}
	go func() {
		for j := range jobs {
			h.Write((*bufs[j.i])[:j.n])
			hashed[j.i] <- struct{}{}
		}
	}()
	finish := func() {
		close(jobs)
		for i := range hashed {
			<-hashed[i]
		}
	}
	var done int64
	for i := 0; ; i ^= 1 {
		if err := ctx.Err(); err != nil {
			finish()
			return done, nil, err
		}
		<-hashed[i]
		buf := *bufs[i]
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			jobs <- job{i, n}
			if _, err := dst.Write(buf[:n]); err != nil {
				finish()
				return done, nil, err
			}
			done += int64(n)
			if progress != nil {
				progress(done)
			}
		} else {
			hashed[i] <- struct{}{}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			finish()
			return done, h, nil
		default:
			finish()
			return done, nil, rerr
		}
	}
}
