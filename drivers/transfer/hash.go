package transfer

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/stowage/storage"
)

// HashingReader computes the MD5 and the length of what is read through it,
// so a stream is hashed as it is sent, without a second pass.
type HashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashingReader returns a reader of r that hashes what it reads.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: md5.New()}
}

func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// MD5 returns the lowercase hex MD5 of what has been read.
func (h *HashingReader) MD5() string { return hex.EncodeToString(h.h.Sum(nil)) }

// Len returns the number of bytes read.
func (h *HashingReader) Len() int64 { return h.n }

// VerifyingReader passes a download through and, at its end, checks the
// length and the MD5 it was told to expect: a mismatch makes the final Read
// return an error matching storage.ErrHashMismatch instead of io.EOF, so a
// caller that reads to the end cannot miss it.
type VerifyingReader struct {
	h       *HashingReader
	wantMD5 string
	size    int64
	err     error
}

// NewVerifyingReader checks r against wantMD5 (skipped when "") and size
// (skipped when negative).
func NewVerifyingReader(r io.Reader, wantMD5 string, size int64) *VerifyingReader {
	return &VerifyingReader{h: NewHashingReader(r), wantMD5: wantMD5, size: size}
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.h.Read(p)
	if v.size >= 0 && v.h.n > v.size {
		v.err = fmt.Errorf("%w: more than the %d bytes expected", storage.ErrHashMismatch, v.size)
		return n, v.err
	}
	if err == io.EOF {
		err = v.check()
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *VerifyingReader) check() error {
	if v.size >= 0 && v.h.n < v.size {
		return fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, v.h.n, v.size)
	}
	if v.wantMD5 != "" {
		if got := v.h.MD5(); got != v.wantMD5 {
			return fmt.Errorf("%w: content MD5 %s, expected %s", storage.ErrHashMismatch, got, v.wantMD5)
		}
	}
	return io.EOF
}

// CheckMD5 returns an error matching storage.ErrHashMismatch unless want is
// empty or equal to got.
func CheckMD5(got, want string) error {
	if want != "" && got != want {
		return fmt.Errorf("%w: content MD5 %s, expected %s", storage.ErrHashMismatch, got, want)
	}
	return nil
}
