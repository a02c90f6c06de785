package gcs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gstorage "cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/internal/testkit"
	"github.com/stowage/storage/internal/testserver"
)

// sdkClient is a storage.Client as the SDK's documentation makes one,
// pointed at the test server.
func sdkClient(b *testing.B, srv *testserver.GCS) *gstorage.Client {
	c, err := gstorage.NewClient(context.Background(), option.WithEndpoint(srv.Endpoint), option.WithoutAuthentication())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

const bigSize = 256 << 20

// BenchmarkTransfer256MiB compares upload from a file and download to a
// file with the SDK's Writer and Reader used as its docs show.
func BenchmarkTransfer256MiB(b *testing.B) {
	ctx := context.Background()
	srv := testserver.FakeGCS(b)
	src := testkit.BigFile(b, bigSize)
	d := newDriver(b, gcs.Options{})
	client := sdkClient(b, srv)
	c, err := d.CreateContainer(ctx, "bench-transfer")
	if err != nil {
		b.Fatal(err)
	}
	o, err := c.UploadObject(ctx, src, "big", nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(bigSize)
	testkit.Interleave(b, bigSize, []testkit.Variant{
		{Name: "sdk-upload", Run: func() error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			w := client.Bucket(c.Name).Object("sdk").NewWriter(ctx)
			if _, err := io.Copy(w, f); err != nil {
				w.Close()
				return err
			}
			return w.Close()
		}},
		{Name: "stowage-upload", Run: func() error {
			_, err := c.UploadObject(ctx, src, "ours", nil)
			return err
		}},
		{Name: "sdk-download", Run: func() error {
			f, err := os.Create(filepath.Join(dir, "sdk"))
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := client.Bucket(c.Name).Object("big").NewReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(f, r)
			return err
		}},
		{Name: "stowage-download", Run: func() error {
			return o.Download(ctx, filepath.Join(dir, "ours"), &storage.DownloadOptions{Overwrite: true})
		}},
	})
}

// BenchmarkSmallObjects compares 1 KiB puts and gets with direct
// storage.Client calls, interleaved.
func BenchmarkSmallObjects(b *testing.B) {
	ctx := context.Background()
	srv := testserver.FakeGCS(b)
	d := newDriver(b, gcs.Options{})
	client := sdkClient(b, srv)
	c, err := d.CreateContainer(ctx, "bench-small")
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1024)
	_, _ = rand.Read(data)
	o, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil)
	if err != nil {
		b.Fatal(err)
	}
	testkit.SmallOps(b, 200, [4]testkit.Variant{
		{Name: "sdk-put", Run: func() error {
			w := client.Bucket(c.Name).Object("sdk").NewWriter(ctx)
			if _, err := w.Write(data); err != nil {
				w.Close()
				return err
			}
			return w.Close()
		}},
		{Name: "stowage-put", Run: func() error {
			_, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil)
			return err
		}},
		{Name: "sdk-get", Run: func() error {
			r, err := client.Bucket(c.Name).Object("sdk").NewReader(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r)
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
// the SDK's iterator.
func BenchmarkList10k(b *testing.B) {
	ctx := context.Background()
	srv := testserver.FakeGCS(b)
	d := newDriver(b, gcs.Options{})
	client := sdkClient(b, srv)
	c, err := d.CreateContainer(ctx, "bench-list")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	names := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				w := client.Bucket(c.Name).Object(fmt.Sprintf("dir%d/obj-%05d", i%10, i)).NewWriter(ctx)
				w.ChunkSize = 0
				_, _ = w.Write([]byte("x"))
				if err := w.Close(); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range 10_000 {
		names <- i
	}
	close(names)
	wg.Wait()
	testkit.Interleave(b, 10_000, []testkit.Variant{
		{Name: "sdk-iterator", Run: func() error {
			n := 0
			it := client.Bucket(c.Name).Objects(ctx, &gstorage.Query{Projection: gstorage.ProjectionNoACL})
			p := iterator.NewPager(it, 1000, "")
			for {
				var page []*gstorage.ObjectAttrs
				next, err := p.NextPage(&page)
				if err != nil {
					return err
				}
				n += len(page)
				if next == "" {
					break
				}
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
// live heap's peak growth beside the bound chunk size × 2 + 16 MiB. The
// emulator re-hashes all it has received on every chunk, so this is slow.
func BenchmarkStreamUpload1GiB(b *testing.B) {
	d := newDriver(b, gcs.Options{ChunkSize: 64 << 20})
	c, err := d.CreateContainer(context.Background(), "bench-stream")
	if err != nil {
		b.Fatal(err)
	}
	testkit.BenchStreamHeap(b, c, 1<<30, 2*64<<20)
}

// TestStreamUploadMemoryIsBounded holds the bound on 128 MiB with 16 MiB
// chunks: chunk size × 2 + 16 MiB.
func TestStreamUploadMemoryIsBounded(t *testing.T) {
	d := newDriver(t, gcs.Options{ChunkSize: 16 << 20})
	testkit.CheckStreamHeap(t, newBucket(t, d), 128<<20, 2*16<<20+16<<20)
}
