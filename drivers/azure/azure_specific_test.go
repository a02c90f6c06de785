package azure_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/internal/testkit"
	"github.com/stowage/storage/internal/testserver"
)

func newContainer(t *testing.T, d *azure.Driver) *storage.Container {
	return testkit.NewContainer(t, d, "stowage-az")
}

func TestBlocksFromStreamOfUnknownSize(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, azure.Options{BlockSize: 4 << 20, Concurrency: 4})
	c := newContainer(t, d)
	src := testkit.NewStream(100<<20, 3)
	var last int64
	o, err := c.UploadObjectViaStream(ctx, src, "big/stream.bin", &storage.UploadOptions{
		Progress: func(done, total int64) { last = done },
	})
	require.NoError(t, err)
	want := src.MD5()
	assert.Equal(t, int64(100<<20), o.Size)
	assert.Equal(t, want, o.Hash, "the whole blob's MD5 is stored as its Content-MD5")
	assert.Equal(t, int64(100<<20), last)
	blocks, err := d.Client().ServiceClient().NewContainerClient(c.Name).NewBlockBlobClient("big/stream.bin").GetBlockList(ctx, "all", nil)
	require.NoError(t, err)
	assert.Len(t, blocks.CommittedBlocks, 25, "100 MiB in 4 MiB blocks")

	got, err := c.GetObject(ctx, "big/stream.bin")
	require.NoError(t, err)
	assert.Equal(t, want, got.Hash)
	dest := filepath.Join(t.TempDir(), "out")
	require.NoError(t, got.Download(ctx, dest, nil))
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, want, testkit.MD5Hex(b))
}

func TestCancelledUploadCommitsNothing(t *testing.T) {
	d := newDriver(t, azure.Options{BlockSize: 4 << 20})
	c := newContainer(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.UploadObjectViaStream(ctx, &testkit.Cancelling{R: testkit.NewStream(64<<20, 3), N: 20 << 20, Cancel: cancel}, "cancelled", nil)
	cancel()
	assert.ErrorIs(t, err, context.Canceled)
	_, err = c.GetObject(context.Background(), "cancelled")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	objs, err := c.ListObjects(context.Background(), nil).Collect()
	require.NoError(t, err)
	assert.Empty(t, objs)

	// A wrong MD5 given in advance commits nothing either, small or large.
	for _, size := range []int64{1000, 9 << 20} {
		_, err := c.UploadObjectViaStream(context.Background(), testkit.NewStream(size, 3), "wrong", &storage.UploadOptions{MD5: testkit.MD5Hex([]byte("x"))})
		assert.ErrorIs(t, err, storage.ErrHashMismatch, "size %d", size)
		_, err = c.GetObject(context.Background(), "wrong")
		assert.ErrorIs(t, err, storage.ErrObjectNotFound, "size %d", size)
	}
}

// flipInStore flips one byte of marker where Azurite keeps blob data.
func flipInStore(t *testing.T, dir string, marker []byte) {
	t.Helper()
	found := false
	require.NoError(t, filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || found {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, marker); i >= 0 {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{marker[0] ^ 0xff}, int64(i))
			found = err == nil
			return err
		}
		return nil
	}))
	require.True(t, found, "the blob's bytes were not found in Azurite's store")
}

func TestRangedDownloadChecksMD5(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Azurite(t)
	d := newDriver(t, azure.Options{BlockSize: 4 << 20, PartSize: 4 << 20, Concurrency: 4})
	c := newContainer(t, d)
	data := make([]byte, 21<<20+5)
	_, _ = rand.Read(data)
	o, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), "ranged", nil)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, o.Download(ctx, filepath.Join(dir, "ok"), nil))
	b, err := os.ReadFile(filepath.Join(dir, "ok"))
	require.NoError(t, err)
	assert.Equal(t, testkit.MD5Hex(data), testkit.MD5Hex(b))

	// Corrupt the blob at rest, where Azurite keeps it: the download and
	// the stream must both notice, and the download leave nothing.
	flipInStore(t, srv.Dir, data[13<<20:13<<20+64])
	err = o.Download(ctx, filepath.Join(dir, "bad"), nil)
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	assert.NoFileExists(t, filepath.Join(dir, "bad"))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "a failed download left a temporary file")
	r, err := o.AsStream(ctx, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, r)
	r.Close()
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
}

func TestMetadataKeysAndContentType(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, azure.Options{BlockSize: 4 << 20})
	c := newContainer(t, d)
	for _, size := range []int64{10, 9 << 20} {
		name := fmt.Sprintf("meta-%d", size)
		_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(size, 3), name, &storage.UploadOptions{
			ContentType: "application/x-test", Metadata: map[string]string{"Project": "Stowage", "RunID": "7"},
		})
		require.NoError(t, err)
		o, err := c.GetObject(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "application/x-test", o.ContentType)
		assert.Equal(t, map[string]string{"project": "Stowage", "runid": "7"}, o.Metadata)
	}
	// Keys set by another client in mixed case come back in lower case.
	bc := d.Client().ServiceClient().NewContainerClient(c.Name).NewBlobClient("meta-10")
	_, err := bc.SetMetadata(ctx, map[string]*string{"MixedCase": to.Ptr("v")}, nil)
	require.NoError(t, err)
	o, err := c.GetObject(ctx, "meta-10")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"mixedcase": "v"}, o.Metadata)

	for _, bad := range []map[string]string{{"owner-id": "x"}, {"1st": "x"}, {"ключ": "x"}, {"k": "naïve"}} {
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader("x"), "bad-meta", &storage.UploadOptions{Metadata: bad})
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "%v", bad)
	}
	_, err = c.GetObject(ctx, "bad-meta")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
}

func TestSASTokenIsRedacted(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Azurite(t)
	d := newDriver(t, azure.Options{})
	c := newContainer(t, d)
	sasURL, err := d.Client().ServiceClient().GetSASURL(
		sas.AccountResourceTypes{Service: true, Container: true, Object: true},
		sas.AccountPermissions{Read: true, List: true}, time.Now().Add(time.Hour), nil)
	require.NoError(t, err)
	u, err := url.Parse(sasURL)
	require.NoError(t, err)
	sig := u.Query().Get("sig")
	require.NotEmpty(t, sig)
	ro, err := azure.New(ctx, azure.Options{ServiceURL: srv.ServiceURL, SASToken: u.RawQuery})
	require.NoError(t, err)
	rc := storage.NewContainer(ro, c.Name)
	// Reading works; writing is refused, and no error text holds the
	// signature.
	_, err = rc.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	_, err = rc.UploadObjectViaStream(ctx, strings.NewReader("x"), "denied", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrPermission)
	for _, e := range []error{err, func() error { _, err := rc.GetObject(ctx, "missing"); return err }(),
		func() error { _, err := storage.NewObject(rc, "missing").AsStream(ctx, nil); return err }()} {
		require.Error(t, e)
		assert.NotContains(t, e.Error(), sig)
		assert.NotContains(t, e.Error(), url.QueryEscape(sig))
	}
}

func TestErrorMappingOnTheServer(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Azurite(t)
	d := newDriver(t, azure.Options{})
	c := newContainer(t, d)
	missing := storage.NewContainer(d, "stowage-missing-container")
	_, err := d.CreateContainer(ctx, c.Name)
	assert.ErrorIs(t, err, storage.ErrContainerExists, "ContainerAlreadyExists")
	_, err = d.GetContainer(ctx, missing.Name)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound, "ContainerNotFound")
	_, err = missing.GetObject(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = missing.ListObjects(ctx, nil).Collect()
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = c.GetObject(ctx, "nope")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound, "BlobNotFound")
	_, err = storage.NewObject(c, "nope").AsStream(ctx, nil)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	assert.ErrorIs(t, storage.NewObject(c, "nope").Delete(ctx), storage.ErrObjectNotFound)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "x", nil)
	require.NoError(t, err)
	assert.ErrorIs(t, c.Delete(ctx), storage.ErrContainerNotEmpty)
	_, err = c.GetObject(ctx, "x")
	require.NoError(t, err, "the refused delete deleted nothing")
	o, _ := c.GetObject(ctx, "x")
	_, err = o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 1}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange, "a range at the end")
	for _, bad := range []string{"a\\b", "tab\there", "del\x7f"} {
		_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), bad, nil)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "%q", bad)
	}
	for _, bad := range []string{"UPPER", "a--b", "-ab", "ab"} {
		_, err = d.CreateContainer(ctx, bad)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "%q", bad)
	}
	// A wrong key: unauthenticated, and the key is not printed.
	const key = "d3JvbmctYWNjb3VudC1rZXktN2YzYTljMWU1Yg=="
	bad, err := azure.New(ctx, azure.Options{ServiceURL: srv.ServiceURL, AccountName: srv.Account, AccountKey: key})
	require.NoError(t, err)
	_, err = bad.GetContainer(ctx, c.Name)
	assert.ErrorIs(t, err, storage.ErrUnauthenticated)
	assert.NotContains(t, err.Error(), key)
	_, err = azure.New(ctx, azure.Options{AccountName: "a", AccountKey: "not base64!"})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestOpenURLAndConnectionString(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Azurite(t)
	d, err := storage.Open(ctx, "azure", storage.Config{"connection_string": srv.ConnectionString(), "block_size": "1048576", "concurrency": "2"})
	require.NoError(t, err)
	_, err = d.ListContainers(ctx).Collect()
	require.NoError(t, err)
	d, err = storage.OpenURL(ctx, "azblob://?service_url="+url.QueryEscape(srv.ServiceURL)+"&account="+srv.Account+"&account_key="+url.QueryEscape(srv.Key))
	require.NoError(t, err)
	_, err = d.ListContainers(ctx).Collect()
	require.NoError(t, err)
	for _, bad := range []string{"azblob://?block_size=x", "azblob://?bogus=1", "azblob://?account_key=abc"} {
		_, err := storage.OpenURL(ctx, bad)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, bad)
	}
}
