package transfer

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/stowage/storage"
)

// Sum names the checksums a Hasher computes.
type Sum int

const (
	// MD5 is what Object.Hash holds, and what S3 and Azure check.
	MD5 Sum = 1 << iota
	// CRC32C (Castagnoli) is what GCS checks; with the processor's
	// instructions it costs a tenth of MD5.
	CRC32C
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Hasher computes the chosen checksums and the length of what is written
// to it.
type Hasher struct {
	md5 hash.Hash
	crc hash.Hash32
	n   int64
}

// NewHasher returns a Hasher of the sums given (MD5|CRC32C for both).
func NewHasher(sums Sum) *Hasher {
	h := &Hasher{}
	if sums&MD5 != 0 {
		h.md5 = md5.New()
	}
	if sums&CRC32C != 0 {
		h.crc = crc32.New(castagnoli)
	}
	return h
}

func (h *Hasher) Write(p []byte) (int, error) {
	if h.md5 != nil {
		h.md5.Write(p)
	}
	if h.crc != nil {
		h.crc.Write(p)
	}
	h.n += int64(len(p))
	return len(p), nil
}

// MD5 returns the lowercase hex MD5, or "" if it was not chosen.
func (h *Hasher) MD5() string {
	if h.md5 == nil {
		return ""
	}
	return hex.EncodeToString(h.md5.Sum(nil))
}

// CRC32C returns the CRC32C as 8 lowercase hex digits (big-endian, as GCS
// gives it in base64), or "" if it was not chosen.
func (h *Hasher) CRC32C() string {
	if h.crc == nil {
		return ""
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], h.crc.Sum32())
	return hex.EncodeToString(b[:])
}

// Len returns the number of bytes written.
func (h *Hasher) Len() int64 { return h.n }

// HashingReader hashes what is read through it, so a stream is hashed as
// it is sent, without a second pass.
type HashingReader struct {
	*Hasher
	r io.Reader
}

// NewHashingReader returns a reader of r that computes the sums given.
func NewHashingReader(r io.Reader, sums Sum) *HashingReader {
	return &HashingReader{Hasher: NewHasher(sums), r: r}
}

func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.Write(p[:n])
	return n, err
}

// Want is what a download is expected to hash to, in lowercase hex; an
// empty field is not checked.
type Want struct {
	MD5    string
	CRC32C string
}

// Sums returns the sums w names.
func (w Want) Sums() Sum {
	var sums Sum
	if w.MD5 != "" {
		sums |= MD5
	}
	if w.CRC32C != "" {
		sums |= CRC32C
	}
	return sums
}

// VerifyingReader passes a download through and, at its end, checks its
// length and sums: a mismatch makes the final Read return an error
// matching storage.ErrHashMismatch instead of io.EOF, so a caller that
// reads to the end cannot miss it.
type VerifyingReader struct {
	h    *HashingReader
	want Want
	size int64
	err  error
}

// NewVerifyingReader checks r against want and size (skipped when
// negative). It computes only the sums want names.
func NewVerifyingReader(r io.Reader, size int64, want Want) *VerifyingReader {
	return &VerifyingReader{h: NewHashingReader(r, want.Sums()), want: want, size: size}
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.h.Read(p)
	if v.size >= 0 && v.h.Len() > v.size {
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
	if v.size >= 0 && v.h.Len() < v.size {
		return fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, v.h.Len(), v.size)
	}
	if err := v.h.Check(v.want); err != nil {
		return err
	}
	return io.EOF
}

// Check returns an error matching storage.ErrHashMismatch unless every sum
// that want names matches.
func (h *Hasher) Check(want Want) error {
	if want.CRC32C != "" {
		if got := h.CRC32C(); got != want.CRC32C {
			return fmt.Errorf("%w: content CRC32C %s, expected %s", storage.ErrHashMismatch, got, want.CRC32C)
		}
	}
	if want.MD5 != "" {
		if got := h.MD5(); got != want.MD5 {
			return fmt.Errorf("%w: content MD5 %s, expected %s", storage.ErrHashMismatch, got, want.MD5)
		}
	}
	return nil
}

// CheckMD5 returns an error matching storage.ErrHashMismatch unless want is
// empty or equal to got.
func CheckMD5(got, want string) error {
	if want != "" && got != want {
		return fmt.Errorf("%w: content MD5 %s, expected %s", storage.ErrHashMismatch, got, want)
	}
	return nil
}
