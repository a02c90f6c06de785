package azure_test

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

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/internal/testkit"
	"github.com/stowage/storage/internal/testserver"
)

// sdkClient is an azblob.Client as the SDK's documentation makes one.
func sdkClient(b *testing.B, srv *testserver.Azure) *azblob.Client {
	cred, err := azblob.NewSharedKeyCredential(srv.Account, srv.Key)
	if err != nil {
		b.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(srv.ServiceURL, cred, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

const bigSize = 256 << 20

// BenchmarkTransfer256MiB compares upload from a file and download to a
// file with the SDK's UploadFile and DownloadFile at their defaults.
func BenchmarkTransfer256MiB(b *testing.B) {
	ctx := context.Background()
	srv := testserver.Azurite(b)
	src := testkit.BigFile(b, bigSize)
	d := newDriver(b, azure.Options{})
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
		{Name: "sdk-UploadFile", Run: func() error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = client.UploadFile(ctx, c.Name, "sdk", f, nil)
			return err
		}},
		{Name: "stowage-upload", Run: func() error {
			_, err := c.UploadObject(ctx, src, "ours", nil)
			return err
		}},
		{Name: "sdk-DownloadFile", Run: func() error {
			f, err := os.Create(filepath.Join(dir, "sdk"))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = client.DownloadFile(ctx, c.Name, "big", f, nil)
			return err
		}},
		{Name: "stowage-download", Run: func() error {
			return o.Download(ctx, filepath.Join(dir, "ours"), &storage.DownloadOptions{Overwrite: true})
		}},
		// A second pair, SkipHashCheck against the SDK again: what
		// verification costs, and how far the server swings between runs.
		{Name: "sdk-UploadFile-again", Run: func() error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = client.UploadFile(ctx, c.Name, "sdk", f, nil)
			return err
		}},
		{Name: "stowage-upload-SkipHashCheck", Run: func() error {
			_, err := c.UploadObject(ctx, src, "ours", &storage.UploadOptions{SkipHashCheck: true})
			return err
		}},
	})
}

// BenchmarkSmallObjects compares 1 KiB puts and gets with direct
// azblob.Client calls, interleaved.
func BenchmarkSmallObjects(b *testing.B) {
	ctx := context.Background()
	srv := testserver.Azurite(b)
	d := newDriver(b, azure.Options{})
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
			_, err := client.UploadBuffer(ctx, c.Name, "sdk", data, nil)
			return err
		}},
		{Name: "stowage-put", Run: func() error {
			_, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ours", nil)
			return err
		}},
		{Name: "sdk-get", Run: func() error {
			resp, err := client.DownloadStream(ctx, c.Name, "sdk", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
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

// BenchmarkList10k compares listing 10,000 blobs in pages of 1,000 with
// the SDK's pager.
func BenchmarkList10k(b *testing.B) {
	ctx := context.Background()
	srv := testserver.Azurite(b)
	d := newDriver(b, azure.Options{})
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
				if _, err := client.UploadBuffer(ctx, c.Name, fmt.Sprintf("dir%d/obj-%05d", i%10, i), []byte("x"), nil); err != nil {
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
		{Name: "sdk-pager", Run: func() error {
			n := 0
			p := client.NewListBlobsFlatPager(c.Name, &azblob.ListBlobsFlatOptions{MaxResults: ptr(int32(1000))})
			for p.More() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				n += len(page.Segment.BlobItems)
			}
			if n != 10_000 {
				return fmt.Errorf("listed %d", n)
			}
			return nil
		}},
		{Name: "stowage", Run: func() error { return testkit.ListAll(ctx, c, 10_000) }},
	})
}

func ptr[T any](v T) *T { return &v }

// BenchmarkStreamUpload1GiB uploads 1 GiB of unknown size and reports the
// live heap's peak growth beside the bound block size × (concurrency + 1).
func BenchmarkStreamUpload1GiB(b *testing.B) {
	d := newDriver(b, azure.Options{})
	c, err := d.CreateContainer(context.Background(), "bench-stream")
	if err != nil {
		b.Fatal(err)
	}
	testkit.BenchStreamHeap(b, c, 1<<30, uint64(azure.DefaultBlockSize*(azure.DefaultConcurrency+1)))
}

// TestStreamUploadMemoryIsBounded holds the bound on 256 MiB: block size ×
// (concurrency + 1) + 16 MiB.
func TestStreamUploadMemoryIsBounded(t *testing.T) {
	d := newDriver(t, azure.Options{})
	testkit.CheckStreamHeap(t, newContainer(t, d), 256<<20, uint64(azure.DefaultBlockSize*(azure.DefaultConcurrency+1)+16<<20))
}
