package gcs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gstorage "cloud.google.com/go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/internal/testkit"
)

func newBucket(t *testing.T, d *gcs.Driver) *storage.Container {
	return testkit.NewContainer(t, d, "stowage-gcs")
}

func TestResumableStreamOfUnknownSize(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, gcs.Options{ChunkSize: 16 << 20})
	c := newBucket(t, d)
	src := testkit.NewStream(100<<20, 3)
	var mu sync.Mutex
	var last int64
	o, err := c.UploadObjectViaStream(ctx, src, "big/stream.bin", &storage.UploadOptions{
		Progress: func(done, total int64) { mu.Lock(); last = done; mu.Unlock() },
	})
	require.NoError(t, err)
	want := src.MD5()
	assert.Equal(t, int64(100<<20), o.Size)
	assert.Equal(t, want, o.Hash, "GCS computes the MD5 of a resumable upload")
	assert.Equal(t, int64(100<<20), last)

	got, err := c.GetObject(ctx, "big/stream.bin")
	require.NoError(t, err)
	assert.Equal(t, want, got.Hash)
	dest := filepath.Join(t.TempDir(), "out")
	require.NoError(t, got.Download(ctx, dest, nil))
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, want, testkit.MD5Hex(b))
}

func TestCancelledUploadLeavesNothing(t *testing.T) {
	d := newDriver(t, gcs.Options{ChunkSize: 4 << 20})
	c := newBucket(t, d)
	for _, at := range []int64{512 << 10, 10 << 20} { // in the first request; mid-resumable
		ctx, cancel := context.WithCancel(context.Background())
		_, err := c.UploadObjectViaStream(ctx, &testkit.Cancelling{R: testkit.NewStream(40<<20, 3), N: at, Cancel: cancel}, "cancelled", nil)
		cancel()
		assert.ErrorIs(t, err, context.Canceled, "cancelled at %d", at)
		_, err = c.GetObject(context.Background(), "cancelled")
		assert.ErrorIs(t, err, storage.ErrObjectNotFound, "cancelled at %d", at)
	}
	// A wrong MD5 given in advance stores nothing, small or large.
	for _, size := range []int64{1000, 9 << 20} {
		_, err := c.UploadObjectViaStream(context.Background(), testkit.NewStream(size, 3), "wrong", &storage.UploadOptions{MD5: testkit.MD5Hex([]byte("x"))})
		assert.ErrorIs(t, err, storage.ErrHashMismatch, "size %d", size)
		_, err = c.GetObject(context.Background(), "wrong")
		assert.ErrorIs(t, err, storage.ErrObjectNotFound, "size %d", size)
	}
}

func TestRangedDownloadChecksCRC32C(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, gcs.Options{PartSize: 4 << 20, Concurrency: 4})
	c := newBucket(t, d)
	data := make([]byte, 21<<20+5)
	_, _ = rand.Read(data)
	o, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ranged", nil)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, o.Download(ctx, filepath.Join(dir, "ok"), nil))
	b, err := os.ReadFile(filepath.Join(dir, "ok"))
	require.NoError(t, err)
	assert.Equal(t, testkit.MD5Hex(data), testkit.MD5Hex(b))

	// The check itself: a range download compares the file with the
	// CRC32C the object's attributes give.
	assert.NotEmpty(t, o.Extra["crc32c"])
	assert.Equal(t, fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))), o.Extra["crc32c"])
	r, err := o.AsStream(ctx, nil)
	require.NoError(t, err)
	b, err = io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.Equal(t, testkit.MD5Hex(data), testkit.MD5Hex(b))
}

func TestMetadataContentTypeACL(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, gcs.Options{ChunkSize: 4 << 20})
	c := newBucket(t, d)
	for _, size := range []int64{10, 9 << 20} {
		name := fmt.Sprintf("meta-%d", size)
		_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(size, 3), name, &storage.UploadOptions{
			ContentType: "application/x-test", Metadata: map[string]string{"Project": "Stowage", "run-id": "7"},
			ACL: "publicRead",
		})
		require.NoError(t, err)
		o, err := c.GetObject(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "application/x-test", o.ContentType)
		assert.Equal(t, map[string]string{"project": "Stowage", "run-id": "7"}, o.Metadata)
		rules, err := d.Client().Bucket(c.Name).Object(name).ACL().List(ctx)
		require.NoError(t, err)
		public := false
		for _, r := range rules {
			if r.Entity == gstorage.AllUsers && r.Role == gstorage.RoleReader {
				public = true
			}
		}
		assert.True(t, public, "size %d: publicRead gives allUsers READER: %+v", size, rules)
	}
}

func TestErrorMappingOnTheServer(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, gcs.Options{})
	c := newBucket(t, d)
	missing := storage.NewContainer(d, "stowage-missing-bucket")
	_, err := d.CreateContainer(ctx, c.Name)
	assert.ErrorIs(t, err, storage.ErrContainerExists, "409 on create")
	_, err = d.GetContainer(ctx, missing.Name)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound, "ErrBucketNotExist")
	_, err = missing.GetObject(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = missing.ListObjects(ctx, nil).Collect()
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = c.GetObject(ctx, "nope")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound, "ErrObjectNotExist")
	_, err = storage.NewObject(c, "nope").AsStream(ctx, nil)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	assert.ErrorIs(t, storage.NewObject(c, "nope").Delete(ctx), storage.ErrObjectNotFound)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "x", nil)
	require.NoError(t, err)
	assert.ErrorIs(t, c.Delete(ctx), storage.ErrContainerNotEmpty, "412 from the emulator, 409 from GCS")
	for _, bad := range []string{"a\nb", "a\rb", ".well-known/acme-challenge/x", "."} {
		_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), bad, nil)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "%q", bad)
	}
	for _, bad := range []string{"goog-bucket", "UPPER", "a", "has space"} {
		_, err = d.CreateContainer(ctx, bad)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "%q", bad)
	}
	o, _ := c.GetObject(ctx, "x")
	_, err = o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 5}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	srv := newDriver(t, gcs.Options{}) // starts the server
	_ = srv
	d, err := storage.OpenURL(ctx, "gs://?project=p&endpoint="+srvEndpoint(t)+"&chunk_size=1048576&part_size=1048576&concurrency=2")
	require.NoError(t, err)
	defer d.Close()
	var client *gstorage.Client
	require.True(t, d.(interface{ As(any) bool }).As(&client))
	_, err = d.ListContainers(ctx).Collect()
	require.NoError(t, err)
	for _, bad := range []string{"gs://?chunk_size=x", "gs://?chunk_size=10", "gs://?bogus=1", "gs://?concurrency=-1"} {
		_, err := storage.OpenURL(ctx, bad)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, bad)
	}
	// Without a project, bucket listing says what is missing.
	np, err := gcs.New(ctx, gcs.Options{Endpoint: srvEndpoint(t)})
	require.NoError(t, err)
	_, err = np.ListContainers(ctx).Collect()
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestStorageEmulatorHost(t *testing.T) {
	ctx := context.Background()
	srv := newDriver(t, gcs.Options{}) // starts the server
	c := newBucket(t, srv)
	host := strings.TrimPrefix(strings.TrimSuffix(srvEndpoint(t), "/storage/v1/"), "http://")
	// The SDK honours STORAGE_EMULATOR_HOST; the driver needs no endpoint.
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	d, err := gcs.New(ctx, gcs.Options{ProjectID: "stowage-test"})
	require.NoError(t, err)
	defer d.Close()
	_, err = d.GetContainer(ctx, c.Name)
	require.NoError(t, err)
}
