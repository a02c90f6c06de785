package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/heapwatch"
	"github.com/stowage/storage/internal/testserver"
)

// sdkClient is an s3.Client as the SDK's documentation makes one: its
// defaults, pointed at the test server.
func sdkClient(srv *testserver.S3) *awss3.Client {
	return awss3.New(awss3.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

const bigSize = 256 << 20

var (
	bigOnce sync.Once
	bigPath string
)

func bigFile(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stowage-s3-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bigPath = filepath.Join(dir, "src")
		data := make([]byte, bigSize)
		_, _ = rand.Read(data)
		if err := os.WriteFile(bigPath, data, 0o600); err != nil {
			b.Fatal(err)
		}
	})
	return bigPath
}

// interleave runs each variant once per iteration, in turn, and reports
// each one's best time as MB/s. Variants come in pairs, a baseline then
// ours; each pair also reports ours as a ratio of the baseline's speed.
func interleave(b *testing.B, size int64, variants []variant) {
	best := make([]time.Duration, len(variants))
	for b.Loop() {
		for i, v := range variants {
			start := time.Now()
			if err := v.run(); err != nil {
				b.Fatal(v.name, ": ", err)
			}
			if t := time.Since(start); best[i] == 0 || t < best[i] {
				best[i] = t
			}
		}
	}
	for i, v := range variants {
		b.ReportMetric(float64(size)/best[i].Seconds()/1e6, v.name+"-MB/s")
		if i%2 == 1 {
			b.ReportMetric(best[i-1].Seconds()/best[i].Seconds(), v.name+"/"+variants[i-1].name)
		}
	}
}

type variant struct {
	name string
	run  func() error
}

// BenchmarkTransfer256MiB compares upload from a file and download to a
// file of 256 MiB with the SDK's transfer manager at its defaults.
func BenchmarkTransfer256MiB(b *testing.B) {
	ctx := context.Background()
	srv := testserver.VersityGW(b)
	src := bigFile(b)
	d := newDriver(b, s3.Options{})
	c, err := d.CreateContainer(ctx, "bench-transfer")
	if err != nil {
		b.Fatal(err)
	}
	tm := transfermanager.New(sdkClient(srv))
	o, err := c.UploadObject(ctx, src, "big", nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(bigSize)
	interleave(b, bigSize, []variant{
		{"tm-upload", func() error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(c.Name), Key: aws.String("tm"), Body: f})
			return err
		}},
		{"stowage-upload", func() error {
			_, err := c.UploadObject(ctx, src, "big", nil)
			return err
		}},
		{"tm-download", func() error {
			f, err := os.Create(filepath.Join(dir, "tm"))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String(c.Name), Key: aws.String("big"), WriterAt: f})
			return err
		}},
		{"stowage-download", func() error {
			return o.Download(ctx, filepath.Join(dir, "ours"), &storage.DownloadOptions{Overwrite: true})
		}},
	})
}

// BenchmarkSmallObjects compares 1 KiB puts and gets with direct s3.Client
// calls, interleaved, and reports medians and 90th percentiles.
func BenchmarkSmallObjects(b *testing.B) {
	ctx := context.Background()
	srv := testserver.VersityGW(b)
	d := newDriver(b, s3.Options{})
	client := sdkClient(srv)
	c, err := d.CreateContainer(ctx, "bench-small")
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1024)
	_, _ = rand.Read(data)
	if _, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil); err != nil {
		b.Fatal(err)
	}
	o, err := c.GetObject(ctx, "ours")
	if err != nil {
		b.Fatal(err)
	}
	ops := []variant{
		{"sdk-put", func() error {
			_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(c.Name), Key: aws.String("sdk"), Body: bytes.NewReader(data)})
			return err
		}},
		{"stowage-put", func() error {
			_, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil)
			return err
		}},
		{"sdk-get", func() error {
			out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(c.Name), Key: aws.String("sdk")})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, out.Body)
			return err
		}},
		{"stowage-get", func() error {
			r, err := o.AsStream(ctx, nil)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r)
			return err
		}},
	}
	const perIteration = 200
	times := make([][]time.Duration, len(ops))
	for b.Loop() {
		for range perIteration {
			for i, v := range ops {
				start := time.Now()
				if err := v.run(); err != nil {
					b.Fatal(v.name, err)
				}
				times[i] = append(times[i], time.Since(start))
			}
		}
	}
	pct := func(ts []time.Duration, p float64) time.Duration {
		s := slices.Clone(ts)
		slices.Sort(s)
		return s[int(float64(len(s)-1)*p)]
	}
	for i, v := range ops {
		b.ReportMetric(float64(pct(times[i], 0.5).Microseconds()), v.name+"-p50-µs")
		b.ReportMetric(float64(pct(times[i], 0.9).Microseconds()), v.name+"-p90-µs")
	}
	b.ReportMetric(pct(times[1], 0.5).Seconds()/pct(times[0], 0.5).Seconds(), "put-p50/sdk")
	b.ReportMetric(pct(times[3], 0.5).Seconds()/pct(times[2], 0.5).Seconds(), "get-p50/sdk")
}

// BenchmarkList10k compares listing 10,000 objects in pages of 1,000 with
// the SDK's ListObjectsV2 paginator.
func BenchmarkList10k(b *testing.B) {
	ctx := context.Background()
	srv := testserver.VersityGW(b)
	d := newDriver(b, s3.Options{})
	client := sdkClient(srv)
	c, err := d.CreateContainer(ctx, "bench-list")
	if err != nil {
		b.Fatal(err)
	}
	// Objects made as files in the server's folder: 10,000 PUTs would take
	// longer than the listings.
	for i := range 10_000 {
		p := filepath.Join(srv.Dir, c.Name, fmt.Sprintf("dir%d/obj-%05d", i%10, i))
		if i < 10 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	interleave(b, 10_000, []variant{
		{"sdk-paginator", func() error {
			n := 0
			p := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(c.Name), MaxKeys: aws.Int32(1000)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				n += len(out.Contents)
			}
			if n != 10_000 {
				return fmt.Errorf("listed %d", n)
			}
			return nil
		}},
		{"stowage", func() error {
			n := 0
			for _, err := range c.ListObjects(ctx, &storage.ListOptions{PageSize: 1000}).All() {
				if err != nil {
					return err
				}
				n++
			}
			if n != 10_000 {
				return fmt.Errorf("listed %d", n)
			}
			return nil
		}},
	})
}

// BenchmarkStreamUpload1GiB uploads 1 GiB of unknown size and reports the
// live heap's peak growth beside the bound part size × (concurrency + 1).
func BenchmarkStreamUpload1GiB(b *testing.B) {
	ctx := context.Background()
	d := newDriver(b, s3.Options{})
	c, err := d.CreateContainer(ctx, "bench-stream")
	if err != nil {
		b.Fatal(err)
	}
	const size = 1 << 30
	b.SetBytes(size)
	var worst uint64
	for b.Loop() {
		stop := heapwatch.Start()
		if _, err := c.UploadObjectViaStream(ctx, newStream(size), "stream", nil); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, stop())
	}
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(s3.DefaultPartSize*(s3.DefaultConcurrency+1))/(1<<20), "bound-MiB")
}

// TestStreamUploadMemoryIsBounded holds the bound the benchmark above
// measures, on 256 MiB: part size × (concurrency + 1) + 16 MiB.
func TestStreamUploadMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, s3.Options{})
	c := newBucket(t, d)
	stop := heapwatch.Start()
	o, err := c.UploadObjectViaStream(ctx, newStream(256<<20), "stream", nil)
	grew := stop()
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != 256<<20 {
		t.Fatalf("size %d", o.Size)
	}
	bound := uint64(s3.DefaultPartSize*(s3.DefaultConcurrency+1) + 16<<20)
	if grew > bound {
		t.Fatalf("a 256 MiB stream grew the heap by %d MiB, over the %d MiB bound", grew>>20, bound>>20)
	}
	t.Logf("heap grew %.1f MiB (bound %d MiB)", float64(grew)/(1<<20), bound>>20)
}
