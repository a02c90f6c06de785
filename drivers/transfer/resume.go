package transfer

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/stowage/storage"
)

// maxStalls is how many times in a row a transfer may fail to make any
// progress before its error is returned.
const maxStalls = 5

// Transient reports whether err is a failure of the connection (a reset, a
// body cut short, a timeout) after which asking again for the bytes not
// yet received can succeed. Cancellation and the storage errors (a missing
// object, a refused permission, a mismatched hash) are not.
func Transient(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var se *storage.Error
	if errors.As(err, &se) && se.Kind != nil {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// backoff waits before the attempt-th retry: 50 ms doubling, up to 2 s,
// or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	d := min(50*time.Millisecond<<attempt, 2*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// OpenFrom opens the bytes of a download from offset off to the end of
// what was asked for, pinned to the version first read (an ETag, a
// generation), so that a resumed read never mixes two versions.
type OpenFrom func(ctx context.Context, off int64) (io.ReadCloser, error)

// ResumingReader reads a download of the bytes [start, end) and, when the
// connection fails part way, opens the rest from where it stopped instead
// of failing or starting over.
type ResumingReader struct {
	ctx     context.Context
	r       io.ReadCloser
	pos     int64
	end     int64
	open    OpenFrom
	stalls  int
	resumes int
}

// NewResumingReader reads r, the bytes from start to end, reopening with
// open after a transient failure.
func NewResumingReader(ctx context.Context, r io.ReadCloser, start, end int64, open OpenFrom) *ResumingReader {
	return &ResumingReader{ctx: ctx, r: r, pos: start, end: end, open: open}
}

// Resumes returns how many times the read was resumed.
func (rr *ResumingReader) Resumes() int { return rr.resumes }

func (rr *ResumingReader) Read(p []byte) (int, error) {
	for {
		if rr.r == nil {
			return 0, io.ErrClosedPipe
		}
		n, err := rr.r.Read(p)
		rr.pos += int64(n)
		if n > 0 {
			rr.stalls = 0
		}
		if err == io.EOF && rr.pos < rr.end {
			err = io.ErrUnexpectedEOF // the connection closed early
		}
		if err == nil || err == io.EOF || !Transient(err) || rr.stalls >= maxStalls {
			return n, err
		}
		rr.r.Close()
		rr.r = nil
		if berr := backoff(rr.ctx, rr.stalls); berr != nil {
			return n, berr
		}
		rr.stalls++
		r, oerr := rr.open(rr.ctx, rr.pos)
		if oerr != nil {
			return n, oerr
		}
		rr.r = r
		rr.resumes++
		if n > 0 {
			return n, nil
		}
	}
}

// Close closes the current connection.
func (rr *ResumingReader) Close() error {
	if rr.r == nil {
		return nil
	}
	err := rr.r.Close()
	rr.r = nil
	return err
}
