package transfer

import (
	"context"
	"io"
)

// NewReader wraps the reader of a download: Read fails with ctx's error
// once ctx ends, progress (when not nil) hears of every read with the total
// expected, and Close closes c (when not nil).
func NewReader(ctx context.Context, r io.Reader, c io.Closer, total int64, progress func(done, total int64)) io.ReadCloser {
	return &reader{ctx: ctx, r: r, c: c, total: total, progress: progress}
}

type reader struct {
	ctx      context.Context
	r        io.Reader
	c        io.Closer
	done     int64
	total    int64
	progress func(done, total int64)
}

func (s *reader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(p)
	s.done += int64(n)
	if n > 0 && s.progress != nil {
		s.progress(s.done, s.total)
	}
	return n, err
}

func (s *reader) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// MapReadErrors returns a reader of r whose errors, other than io.EOF, go
// through mapErr first: a driver gives them the storage kinds.
func MapReadErrors(r io.Reader, mapErr func(error) error) io.Reader {
	return &mappedReader{r: r, mapErr: mapErr}
}

type mappedReader struct {
	r      io.Reader
	mapErr func(error) error
}

func (m *mappedReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = m.mapErr(err)
	}
	return n, err
}
