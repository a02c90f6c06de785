package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/testkit"
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

// BenchmarkTransfer256MiB compares upload from a file and download to a
// file of 256 MiB with the SDK's transfer manager at its defaults.
func BenchmarkTransfer256MiB(b *testing.B) {
	ctx := context.Background()
	srv := testserver.VersityGW(b)
	src := testkit.BigFile(b, bigSize)
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
	testkit.Interleave(b, bigSize, []testkit.Variant{
		{Name: "tm-upload", Run: func() error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(c.Name), Key: aws.String("tm"), Body: f})
			return err
		}},
		{Name: "stowage-upload", Run: func() error {
			_, err := c.UploadObject(ctx, src, "ours", nil)
			return err
		}},
		{Name: "tm-download", Run: func() error {
			f, err := os.Create(filepath.Join(dir, "tm"))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String(c.Name), Key: aws.String("big"), WriterAt: f})
			return err
		}},
		{Name: "stowage-download", Run: func() error {
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
	testkit.SmallOps(b, 200, [4]testkit.Variant{
		{Name: "sdk-put", Run: func() error {
			_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(c.Name), Key: aws.String("sdk"), Body: bytes.NewReader(data)})
			return err
		}},
		{Name: "stowage-put", Run: func() error {
			_, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil)
			return err
		}},
		{Name: "sdk-get", Run: func() error {
			out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(c.Name), Key: aws.String("sdk")})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, out.Body)
			return err
		}},
		{Name: "stowage-get", Run: func() error {
			r, err := o.AsStream(ctx, nil)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r)
			return err
		}},
	})
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
	testkit.Interleave(b, 10_000, []testkit.Variant{
		{Name: "sdk-paginator", Run: func() error {
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
		{Name: "stowage", Run: func() error { return testkit.ListAll(ctx, c, 10_000) }},
	})
}

// BenchmarkStreamUpload1GiB uploads 1 GiB of unknown size and reports the
// live heap's peak growth beside the bound part size × (concurrency + 1).
func BenchmarkStreamUpload1GiB(b *testing.B) {
	d := newDriver(b, s3.Options{})
	c, err := d.CreateContainer(context.Background(), "bench-stream")
	if err != nil {
		b.Fatal(err)
	}
	testkit.BenchStreamHeap(b, c, 1<<30, uint64(s3.DefaultPartSize*(s3.DefaultConcurrency+1)))
}

// TestStreamUploadMemoryIsBounded holds the bound the benchmark above
// measures, on 256 MiB: part size × (concurrency + 1) + 16 MiB.
func TestStreamUploadMemoryIsBounded(t *testing.T) {
	d := newDriver(t, s3.Options{})
	testkit.CheckStreamHeap(t, newBucket(t, d), 256<<20, uint64(s3.DefaultPartSize*(s3.DefaultConcurrency+1)+16<<20))
}
