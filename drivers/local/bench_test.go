package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stowage/storage"
	"github.com/stowage/storage/internal/heapwatch"
)

const bigFile = 256 << 20

var (
	bigOnce sync.Once
	bigPath string
)

// bigSource writes a 256 MiB file of random bytes once per test binary.
func bigSource(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stowage-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bigPath = filepath.Join(dir, "src")
		buf := make([]byte, bigFile)
		_, _ = rand.Read(buf)
		if err := os.WriteFile(bigPath, buf, 0o600); err != nil {
			b.Fatal(err)
		}
	})
	return bigPath
}

// BenchmarkFileTransfer compares the driver's upload from a file and
// download to a file of 256 MiB with the physical baseline, io.Copy between
// two files followed by fsync (the driver syncs too), and with "durable",
// the same into a new file renamed into place with its folder synced. Each iteration runs
// every variant in turn, so they share the machine's moods; it reports
// each variant's best MB/s and its ratio to the baseline's best.
func BenchmarkFileTransfer(b *testing.B) {
	src := bigSource(b)
	ctx := context.Background()
	dir := b.TempDir()
	d, err := New(Options{Root: filepath.Join(dir, "root")})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := d.CreateContainer(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.UploadObject(ctx, src, "big", nil); err != nil {
		b.Fatal(err)
	}
	o, err := c.GetObject(ctx, "big")
	if err != nil {
		b.Fatal(err)
	}
	dest := filepath.Join(dir, "dest")
	variants := []struct {
		name string
		run  func() error
	}{
		{"baseline", func() error {
			in, err := os.Open(src)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(dest)
			if err != nil {
				return err
			}
			defer out.Close()
			if _, err := io.Copy(out, in); err != nil {
				return err
			}
			return out.Sync()
		}},
		// What durability costs: a new file, synced, renamed over the old
		// one, its folder synced, as the driver does.
		{"durable", func() error {
			in, err := os.Open(src)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(dest + ".tmp")
			if err != nil {
				return err
			}
			defer out.Close()
			if _, err := io.Copy(out, in); err != nil {
				return err
			}
			if err := out.Sync(); err != nil {
				return err
			}
			if err := os.Rename(dest+".tmp", dest); err != nil {
				return err
			}
			df, err := os.Open(dir)
			if err != nil {
				return err
			}
			defer df.Close()
			return df.Sync()
		}},
		{"upload", func() error {
			_, err := c.UploadObject(ctx, src, "up", nil)
			return err
		}},
		{"download", func() error {
			return o.Download(ctx, dest, &storage.DownloadOptions{Overwrite: true})
		}},
		// Progress reporting, to show it costs nothing measurable.
		{"download-progress", func() error {
			var calls int
			return o.Download(ctx, dest, &storage.DownloadOptions{Overwrite: true,
				Progress: func(done, total int64) { calls++ }})
		}},
		{"upload-nohash", func() error {
			_, err := c.UploadObject(ctx, src, "up", &storage.UploadOptions{SkipHashCheck: true})
			return err
		}},
		{"download-nohash", func() error {
			return o.Download(ctx, dest, &storage.DownloadOptions{Overwrite: true, SkipHashCheck: true})
		}},
	}
	best := make([]time.Duration, len(variants))
	b.SetBytes(bigFile * int64(len(variants)))
	for b.Loop() {
		for i, v := range variants {
			start := time.Now()
			if err := v.run(); err != nil {
				b.Fatal(v.name, err)
			}
			if t := time.Since(start); best[i] == 0 || t < best[i] {
				best[i] = t
			}
		}
	}
	mbps := func(t time.Duration) float64 { return bigFile / t.Seconds() / 1e6 }
	for i, v := range variants {
		b.ReportMetric(mbps(best[i]), v.name+"-MB/s")
		if i > 0 {
			b.ReportMetric(mbps(best[i])/mbps(best[0]), v.name+"/baseline")
		}
	}
}

// generator yields n bytes of a repeating pattern, of a size nobody knows in
// advance: a stand-in for a tar stream.
type generator struct {
	left int64
	fill [64 << 10]byte
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), g.left)
	for i := int64(0); i < n; i += int64(len(g.fill)) {
		copy(p[i:n], g.fill[:])
	}
	g.left -= n
	return int(n), nil
}

// BenchmarkStreamUpload1GiB uploads 1 GiB of unknown size from a generator
// and reports the growth of the live heap at its peak.
func BenchmarkStreamUpload1GiB(b *testing.B) {
	ctx := context.Background()
	d, err := New(Options{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := d.CreateContainer(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	const size = 1 << 30
	b.SetBytes(size)
	b.ReportAllocs()
	var worst uint64
	for b.Loop() {
		stop := heapwatch.Start()
		if _, err := c.UploadObjectViaStream(ctx, &generator{left: size}, "stream", nil); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, stop())
	}
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
}

// TestStreamUploadMemoryIsBounded holds the bound the benchmark above
// measures: a 256 MiB stream grows the heap by less than 16 MiB.
func TestStreamUploadMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	d, err := New(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.CreateContainer(ctx, "mem")
	if err != nil {
		t.Fatal(err)
	}
	stop := heapwatch.Start()
	o, err := c.UploadObjectViaStream(ctx, &generator{left: 256 << 20}, "stream", nil)
	grew := stop()
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != 256<<20 {
		t.Fatalf("size %d", o.Size)
	}
	if grew > 16<<20 {
		t.Fatalf("a 256 MiB stream grew the heap by %d MiB", grew>>20)
	}
}

// makeObjects writes n objects under prefix directly, with the attribute
// the driver would have written, to build a large listing quickly.
func makeObjects(tb testing.TB, root, container, prefix string, n int) {
	dir := filepath.Join(root, container, filepath.FromSlash(prefix))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("obj-%07d", i))
		f, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		_, err = f.Write([]byte("x"))
		if err != nil {
			tb.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			tb.Fatal(err)
		}
		raw, _ := json.Marshal(attrs{MD5: "9dd4e461268c8034f5c8564e155c67a6", ContentType: "text/plain",
			Size: fi.Size(), MTime: fi.ModTime().UnixNano()})
		if err := fsetAttrs(f, raw); err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkList100k lists 100,000 objects under one prefix (beside 10,000
// others) and reports the time to the first item beside the total.
func BenchmarkList100k(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	makeObjects(b, root, "bench", "logs/2026/", 100_000)
	makeObjects(b, root, "bench", "other/", 10_000)
	d, err := New(Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := d.GetContainer(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var first time.Duration
	for b.Loop() {
		start := time.Now()
		n := 0
		for o, err := range c.ListObjects(ctx, &storage.ListOptions{Prefix: "logs/2026/"}).All() {
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				first = max(first, time.Since(start))
			}
			if o.Hash == "" {
				b.Fatal("no hash")
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("listed %d", n)
		}
	}
	b.ReportMetric(float64(first.Microseconds())/1000, "first-item-ms")
}
