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
