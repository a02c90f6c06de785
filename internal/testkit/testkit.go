// Package testkit holds what the drivers' tests and benchmarks share:
// interleaved timing of variants, percentiles of small operations, a large
// source file, a generated stream of unknown size, a reader that cancels.
package testkit

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stowage/storage"
)

// Variant is one way of doing the work a benchmark measures.
type Variant struct {
	Name string
	Run  func() error
}

// Interleave runs each variant once per iteration, in turn, so that they
// share the machine's moods, and reports each one's best time as MB/s of
// size bytes. Variants come in pairs, a baseline then ours; each pair also
// reports ours as a ratio of the baseline's speed.
func Interleave(b *testing.B, size int64, variants []Variant) {
	best := make([]time.Duration, len(variants))
	for b.Loop() {
		for i, v := range variants {
			start := time.Now()
			if err := v.Run(); err != nil {
				b.Fatal(v.Name, ": ", err)
			}
			if t := time.Since(start); best[i] == 0 || t < best[i] {
				best[i] = t
			}
		}
	}
	for i, v := range variants {
		b.ReportMetric(float64(size)/best[i].Seconds()/1e6, v.Name+"-MB/s")
		if i%2 == 1 {
			b.ReportMetric(best[i-1].Seconds()/best[i].Seconds(), v.Name+"/"+variants[i-1].Name)
		}
	}
}

// SmallOps runs the four variants sdk-put, ours-put, sdk-get, ours-get
// perIteration times each per iteration, interleaved, and reports their
// medians and 90th percentiles, and ours' medians over the SDK's.
func SmallOps(b *testing.B, perIteration int, ops [4]Variant) {
	times := make([][]time.Duration, len(ops))
	for b.Loop() {
		for range perIteration {
			for i, v := range ops {
				start := time.Now()
				if err := v.Run(); err != nil {
					b.Fatal(v.Name, err)
				}
				times[i] = append(times[i], time.Since(start))
			}
		}
	}
	for i, v := range ops {
		b.ReportMetric(float64(Percentile(times[i], 0.5).Microseconds()), v.Name+"-p50-µs")
		b.ReportMetric(float64(Percentile(times[i], 0.9).Microseconds()), v.Name+"-p90-µs")
	}
	b.ReportMetric(Percentile(times[1], 0.5).Seconds()/Percentile(times[0], 0.5).Seconds(), "put-p50/sdk")
	b.ReportMetric(Percentile(times[3], 0.5).Seconds()/Percentile(times[2], 0.5).Seconds(), "get-p50/sdk")
}

// Percentile returns the p-th (0 to 1) of ts.
func Percentile(ts []time.Duration, p float64) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

var (
	bigMu    sync.Mutex
	bigFiles = map[int64]string{}
)

// BigFile returns a file of size random bytes, made once per process.
func BigFile(tb testing.TB, size int64) string {
	bigMu.Lock()
	defer bigMu.Unlock()
	if p, ok := bigFiles[size]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "stowage-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "src")
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	bigFiles[size] = p
	return p
}

// Stream yields a fixed pseudo-random sequence of bytes, of a size the
// reader cannot learn in advance, and hashes what it yields.
type Stream struct {
	left int64
	seed uint64
	h    hash.Hash
}

// NewStream returns a stream of n bytes.
func NewStream(n int64, seed uint64) *Stream { return &Stream{left: n, seed: seed, h: md5.New()} }

func (s *Stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), s.left)
	for i := range p[:n] {
		s.seed = s.seed*6364136223846793005 + 1442695040888963407
		p[i] = byte(s.seed >> 56)
	}
	s.h.Write(p[:n])
	s.left -= n
	return int(n), nil
}

// MD5 returns the hex MD5 of what the stream has yielded.
func (s *Stream) MD5() string { return hex.EncodeToString(s.h.Sum(nil)) }

// Cancelling reads R and cancels its context once more than N bytes were
// read.
type Cancelling struct {
	R      io.Reader
	N      int64
	Cancel context.CancelFunc
}

func (c *Cancelling) Read(p []byte) (int, error) {
	if c.N <= 0 {
		c.Cancel()
	}
	n, err := c.R.Read(p)
	c.N -= int64(n)
	return n, err
}

// MD5Hex returns the lowercase hex MD5 of b.
func MD5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// NewContainer creates a container named prefix and a random suffix on d,
// emptied and deleted when the test ends.
func NewContainer(t *testing.T, d storage.Driver, prefix string) *storage.Container {
	t.Helper()
	ctx := context.Background()
	c, err := d.CreateContainer(ctx, fmt.Sprintf("%s-%08x", prefix, mrand.Uint32()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		objs, _ := c.ListObjects(ctx, nil).Collect()
		for _, o := range objs {
			_ = o.Delete(ctx)
		}
		_ = c.Delete(ctx)
	})
	return c
}

// ListAll is the Stowage side of the listing benchmarks: it lists c in
// pages of 1,000 and checks that it saw want objects.
func ListAll(ctx context.Context, c *storage.Container, want int) error {
	n := 0
	for _, err := range c.ListObjects(ctx, &storage.ListOptions{PageSize: 1000}).All() {
		if err != nil {
			return err
		}
		n++
	}
	if n != want {
		return fmt.Errorf("listed %d of %d", n, want)
	}
	return nil
}
