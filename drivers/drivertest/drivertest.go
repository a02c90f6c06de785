// Package drivertest is the conformance suite every Stowage driver passes.
// It is the specification of the base API's behaviour: a driver author in
// another module runs it on their driver from a test:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Harness{
//			New: func(t *testing.T) storage.Driver { return mydriver.New(...) },
//		})
//	}
//
// The suite creates its own containers, named "stowage-test-" and a random
// suffix, and deletes them when it ends.
package drivertest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
)

// Harness describes the driver under test.
type Harness struct {
	// New returns the driver to test. It is called once per Run; the
	// driver is shared by subtests running in parallel.
	New func(t *testing.T) storage.Driver
	// MaxObjectNameBytes is the longest object name the driver accepts;
	// 0 means 1,024, the limit of S3, GCS and Azure.
	MaxObjectNameBytes int
	// NoMultiByteDelimiter, when set, says why the server under test
	// cannot list with a delimiter of more than one byte (an emulator's
	// bug, say), and those listings are not checked.
	NoMultiByteDelimiter string
	// UncheckedSignatures, when set, says why the server under test
	// serves signed URLs without checking their signatures, and the check
	// that a GET URL cannot PUT is skipped.
	UncheckedSignatures string
}

// Run runs the whole suite against the driver h.New returns.
func Run(t *testing.T, h Harness) {
	if h.MaxObjectNameBytes == 0 {
		h.MaxObjectNameBytes = 1024
	}
	d := h.New(t)
	t.Cleanup(func() { d.Close() })
	s := &suite{h: h, d: d}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Containers", s.testContainers},
		{"ContainerErrors", s.testContainerErrors},
		{"InvalidContainerNames", s.testInvalidContainerNames},
		{"ObjectRoundTrip", s.testObjectRoundTrip},
		{"ObjectErrors", s.testObjectErrors},
		{"InvalidObjectNames", s.testInvalidObjectNames},
		{"NilArguments", s.testNilArguments},
		{"UploadFromFile", s.testUploadFromFile},
		{"DownloadToFile", s.testDownloadToFile},
		{"HashMismatch", s.testHashMismatch},
		{"MetadataAndContentType", s.testMetadata},
		{"EmptyObject", s.testEmptyObject},
		{"LargeObject", s.testLargeObject},
		{"Ranges", s.testRanges},
		{"Chunks", s.testChunks},
		{"Overwrite", s.testOverwrite},
		{"WeirdNames", s.testWeirdNames},
		{"LongNames", s.testLongNames},
		{"ListOrder", s.testListOrder},
		{"ListPrefixAndDelimiter", s.testListPrefixDelimiter},
		{"Pagination", s.testPagination},
		{"ResumeFromToken", s.testResume},
		{"CancelledUpload", s.testCancelledUpload},
		{"CancelledDownload", s.testCancelledDownload},
		{"Concurrency", s.testConcurrency},
		{"Capabilities", s.testCapabilities},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	h Harness
	d storage.Driver
}

// newContainer creates a container that is emptied and deleted when the
// test ends.
func (s *suite) newContainer(t *testing.T) *storage.Container {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("stowage-test-%08x", mrand.Uint32())
	c, err := s.d.CreateContainer(ctx, name)
	require.NoError(t, err)
	require.Equal(t, name, c.Name)
	t.Cleanup(func() { removeContainer(t, s.d, name) })
	return c
}

func removeContainer(t *testing.T, d storage.Driver, name string) {
	ctx := context.Background()
	c, err := d.GetContainer(ctx, name)
	if errors.Is(err, storage.ErrContainerNotFound) {
		return
	}
	if !assert.NoError(t, err) {
		return
	}
	objs, err := c.ListObjects(ctx, nil).Collect()
	assert.NoError(t, err)
	for _, o := range objs {
		assert.NoError(t, o.Delete(ctx))
	}
	assert.NoError(t, c.Delete(ctx))
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func put(t *testing.T, c *storage.Container, name string, data []byte, opts *storage.UploadOptions) *storage.Object {
	t.Helper()
	o, err := c.UploadObjectViaStream(context.Background(), bytes.NewReader(data), name, opts)
	require.NoError(t, err, "upload %q", name)
	require.Equal(t, name, o.Name)
	require.Equal(t, int64(len(data)), o.Size, "size of %q", name)
	return o
}

func read(t *testing.T, o *storage.Object, opts *storage.StreamOptions) []byte {
	t.Helper()
	r, err := o.AsStream(context.Background(), opts)
	require.NoError(t, err, "stream %q", o.Name)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err, "read %q", o.Name)
	return b
}

func names(objs []*storage.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
		if o.IsPrefix {
			out[i] += " (prefix)"
		}
	}
	return out
}

// dirEntries lists a folder, to check that no temporary file was left.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func (s *suite) testContainers(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	got, err := s.d.GetContainer(ctx, c.Name)
	require.NoError(t, err)
	assert.Equal(t, c.Name, got.Name)
	assert.Equal(t, s.d, got.Driver())

	found := false
	for lc, err := range s.d.ListContainers(ctx).All() {
		require.NoError(t, err)
		if lc.Name == c.Name {
			found = true
		}
	}
	assert.True(t, found, "ListContainers does not list %q", c.Name)

	require.NoError(t, c.Delete(ctx))
	_, err = s.d.GetContainer(ctx, c.Name)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
}

func (s *suite) testContainerErrors(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)

	_, err := s.d.CreateContainer(ctx, c.Name)
	assert.ErrorIs(t, err, storage.ErrContainerExists)

	put(t, c, "keep", []byte("x"), nil)
	err = c.Delete(ctx)
	assert.ErrorIs(t, err, storage.ErrContainerNotEmpty)
	o, err := c.GetObject(ctx, "keep")
	require.NoError(t, err, "a refused container delete must delete nothing")
	require.NoError(t, o.Delete(ctx))

	missing := storage.NewContainer(s.d, fmt.Sprintf("stowage-test-missing-%08x", mrand.Uint32()))
	_, err = s.d.GetContainer(ctx, missing.Name)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	assert.ErrorIs(t, missing.Delete(ctx), storage.ErrContainerNotFound)
	_, err = missing.GetObject(ctx, "a")
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = missing.UploadObjectViaStream(ctx, strings.NewReader("x"), "a", nil)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = missing.ListObjects(ctx, nil).Collect()
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	err = storage.NewObject(missing, "a").Delete(ctx)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = s.d.CreateContainer(ctx, missing.Name)
	require.NoError(t, err)
	require.NoError(t, missing.Delete(ctx))
}

func (s *suite) testInvalidContainerNames(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"", "a/b", "..", ".", "bad\x00name", "../escape", "/abs"} {
		_, err := s.d.CreateContainer(ctx, name)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "CreateContainer(%q)", name)
		_, err = s.d.GetContainer(ctx, name)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "GetContainer(%q)", name)
	}
}

func (s *suite) testObjectRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := []byte("hello, stowage\n")
	o := put(t, c, "greeting.txt", data, nil)
	assert.Equal(t, md5hex(data), o.Hash)
	assert.Equal(t, c.Name, o.Container.Name)

	got, err := c.GetObject(ctx, "greeting.txt")
	require.NoError(t, err)
	assert.Equal(t, "greeting.txt", got.Name)
	assert.Equal(t, int64(len(data)), got.Size)
	assert.Equal(t, md5hex(data), got.Hash)
	assert.NotEmpty(t, got.ETag)
	assert.True(t, strings.HasPrefix(got.ContentType, "text/plain"), "content type %q guessed from .txt", got.ContentType)
	assert.False(t, got.ModTime.IsZero())
	assert.Equal(t, data, read(t, got, nil))

	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, "greeting.txt", objs[0].Name)
	assert.Equal(t, int64(len(data)), objs[0].Size)

	require.NoError(t, got.Delete(ctx))
	_, err = c.GetObject(ctx, "greeting.txt")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	objs, err = c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Empty(t, objs)
}

func (s *suite) testObjectErrors(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	_, err := c.GetObject(ctx, "missing")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	missing := storage.NewObject(c, "missing")
	assert.ErrorIs(t, missing.Delete(ctx), storage.ErrObjectNotFound)
	_, err = missing.AsStream(ctx, nil)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	dest := filepath.Join(t.TempDir(), "out")
	assert.ErrorIs(t, missing.Download(ctx, dest, nil), storage.ErrObjectNotFound)
	assert.NoFileExists(t, dest)

	// An error names the driver's operation and still wraps its cause.
	var se *storage.Error
	if assert.ErrorAs(t, err, &se) {
		assert.Equal(t, c.Name, se.Container)
	}

	_, err = c.UploadObject(ctx, filepath.Join(t.TempDir(), "no-such-file"), "x", nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = c.UploadObject(ctx, t.TempDir(), "x", nil)
	assert.Error(t, err, "uploading a folder")
	_, err = c.GetObject(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)

	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "x", &storage.UploadOptions{MD5: "not-hex"})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func (s *suite) testInvalidObjectNames(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	bad := []string{"", "nul\x00byte", "bad-utf8-\xff", strings.Repeat("n", s.h.MaxObjectNameBytes+1)}
	for _, name := range bad {
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader("x"), name, nil)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "upload %q", name)
		_, err = c.GetObject(ctx, name)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "get %q", name)
		assert.ErrorIs(t, storage.NewObject(c, name).Delete(ctx), storage.ErrInvalidName, "delete %q", name)
	}
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Empty(t, objs, "a refused upload stored something")
}

func (s *suite) testNilArguments(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	d := s.d
	_, err := d.ListContainerObjects(ctx, nil, nil).Collect()
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = d.UploadObject(ctx, "x", nil, "x", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = d.UploadObjectViaStream(ctx, strings.NewReader("x"), nil, "x", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = d.UploadObjectViaStream(ctx, nil, c, "x", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.ErrorIs(t, d.DownloadObject(ctx, nil, "x", nil), storage.ErrInvalidArgument)
	_, err = d.DownloadObjectAsStream(ctx, nil, nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.ErrorIs(t, d.DeleteObject(ctx, nil), storage.ErrInvalidArgument)
	assert.ErrorIs(t, d.DeleteContainer(ctx, nil), storage.ErrInvalidArgument)
	orphan := &storage.Object{Name: "x"}
	assert.ErrorIs(t, d.DeleteObject(ctx, orphan), storage.ErrInvalidArgument)
	prefix := storage.NewObject(c, "dir/")
	prefix.IsPrefix = true
	_, err = d.DownloadObjectAsStream(ctx, prefix, nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	err = d.DownloadObject(ctx, storage.NewObject(c, "x"), "", nil)
	assert.Error(t, err)
}

func (s *suite) testUploadFromFile(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := randomBytes(3<<20 + 17)
	src := filepath.Join(t.TempDir(), "src.bin")
	require.NoError(t, os.WriteFile(src, data, 0o600))
	var last int64
	o, err := c.UploadObject(ctx, src, "from/file.bin", &storage.UploadOptions{
		Progress: func(done, total int64) { last = done },
	})
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), o.Size)
	assert.Equal(t, md5hex(data), o.Hash)
	assert.Equal(t, int64(len(data)), last, "progress ends at the size")
	got, err := c.GetObject(ctx, "from/file.bin")
	require.NoError(t, err)
	assert.Equal(t, md5hex(data), md5hex(read(t, got, nil)))

	// A correct MD5 given in advance is accepted.
	_, err = c.UploadObject(ctx, src, "from/checked.bin", &storage.UploadOptions{MD5: md5hex(data)})
	require.NoError(t, err)
}

func (s *suite) testDownloadToFile(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := randomBytes(1<<20 + 3)
	o := put(t, c, "dir/blob.bin", data, nil)
	dir := t.TempDir()
	dest := filepath.Join(dir, "blob.bin")

	var last int64
	require.NoError(t, o.Download(ctx, dest, &storage.DownloadOptions{
		Progress: func(done, total int64) { last = done },
	}))
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, md5hex(data), md5hex(got))
	assert.Equal(t, int64(len(data)), last)

	// An existing destination is refused and left as it was.
	require.NoError(t, os.WriteFile(dest, []byte("mine"), 0o600))
	err = o.Download(ctx, dest, nil)
	assert.ErrorIs(t, err, storage.ErrFileExists)
	got, _ = os.ReadFile(dest)
	assert.Equal(t, []byte("mine"), got)

	require.NoError(t, o.Download(ctx, dest, &storage.DownloadOptions{Overwrite: true}))
	got, _ = os.ReadFile(dest)
	assert.Equal(t, md5hex(data), md5hex(got))

	// A destination ending in a separator is a folder.
	sub := filepath.Join(dir, "into") + string(filepath.Separator)
	require.NoError(t, os.Mkdir(sub, 0o700))
	require.NoError(t, c.DownloadObject(ctx, o, sub, nil))
	got, err = os.ReadFile(filepath.Join(sub, "blob.bin"))
	require.NoError(t, err)
	assert.Equal(t, md5hex(data), md5hex(got))

	// A folder is never replaced.
	assert.ErrorIs(t, o.Download(ctx, sub[:len(sub)-1], &storage.DownloadOptions{Overwrite: true}), storage.ErrFileExists)
	assert.ElementsMatch(t, []string{"blob.bin", "into"}, dirEntries(t, dir), "no temporary file is left")
}

func (s *suite) testHashMismatch(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	wrong := md5hex([]byte("something else"))
	_, err := c.UploadObjectViaStream(ctx, strings.NewReader("content"), "h", &storage.UploadOptions{MD5: wrong})
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	_, err = c.GetObject(ctx, "h")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound, "a mismatched upload must store nothing")

	src := filepath.Join(t.TempDir(), "src")
	require.NoError(t, os.WriteFile(src, []byte("file content"), 0o600))
	_, err = c.UploadObject(ctx, src, "h", &storage.UploadOptions{MD5: wrong})
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	_, err = c.GetObject(ctx, "h")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)

	// A mismatched overwrite leaves the old object whole.
	put(t, c, "h", []byte("old"), nil)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("new"), "h", &storage.UploadOptions{MD5: wrong})
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	o, err := c.GetObject(ctx, "h")
	require.NoError(t, err)
	assert.Equal(t, []byte("old"), read(t, o, nil))
}

func (s *suite) testMetadata(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	// Keys every provider keeps: Azure takes only C# identifiers.
	meta := map[string]string{"Color": "blue", "owner_id": "42"}
	o := put(t, c, "meta.bin", []byte("m"), &storage.UploadOptions{ContentType: "application/x-stowage", Metadata: meta})
	want := map[string]string{"color": "blue", "owner_id": "42"}
	assert.Equal(t, want, o.Metadata)
	assert.Equal(t, "application/x-stowage", o.ContentType)
	got, err := c.GetObject(ctx, "meta.bin")
	require.NoError(t, err)
	assert.Equal(t, want, got.Metadata)
	assert.Equal(t, "application/x-stowage", got.ContentType)

	// Guessed from the name when not given.
	o = put(t, c, "page.html", []byte("<p>"), nil)
	assert.True(t, strings.HasPrefix(o.ContentType, "text/html"), "content type %q", o.ContentType)
	got, err = c.GetObject(ctx, "page.html")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(got.ContentType, "text/html"), "content type %q", got.ContentType)
	assert.Empty(t, got.Metadata)
}

func (s *suite) testEmptyObject(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	o := put(t, c, "empty", nil, nil)
	assert.Equal(t, md5hex(nil), o.Hash)
	got, err := c.GetObject(ctx, "empty")
	require.NoError(t, err)
	assert.Equal(t, int64(0), got.Size)
	assert.Empty(t, read(t, got, nil))
	assert.Empty(t, read(t, got, &storage.StreamOptions{Range: &storage.Range{}}))
	dest := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, got.Download(ctx, dest, nil))
	fi, err := os.Stat(dest)
	require.NoError(t, err)
	assert.Equal(t, int64(0), fi.Size())
}

func (s *suite) testLargeObject(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := randomBytes(17<<20 + 5)
	// A reader that is not a *bytes.Reader hides the size from the driver.
	o, err := c.UploadObjectViaStream(ctx, io.MultiReader(bytes.NewReader(data)), "large.bin", nil)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), o.Size)
	got, err := c.GetObject(ctx, "large.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), got.Size)
	if got.Hash != "" {
		assert.Equal(t, md5hex(data), got.Hash)
	}
	assert.Equal(t, md5hex(data), md5hex(read(t, got, nil)))
	dest := filepath.Join(t.TempDir(), "large.bin")
	require.NoError(t, got.Download(ctx, dest, nil))
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, md5hex(data), md5hex(b))
}

func (s *suite) testRanges(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := randomBytes(100_000)
	o := put(t, c, "ranged", data, nil)
	cases := []struct {
		name string
		r    storage.Range
		want []byte
	}{
		{"start", storage.Range{Offset: 0, Length: 10}, data[:10]},
		{"middle", storage.Range{Offset: 40_000, Length: 1234}, data[40_000:41_234]},
		{"end", storage.Range{Offset: 99_990}, data[99_990:]},
		{"last byte", storage.Range{Offset: 99_999, Length: 1}, data[99_999:]},
		{"past the end is clipped", storage.Range{Offset: 99_000, Length: 5_000}, data[99_000:]},
		{"whole", storage.Range{}, data},
	}
	for _, tc := range cases {
		r := tc.r
		got := read(t, o, &storage.StreamOptions{Range: &r})
		assert.Equal(t, len(tc.want), len(got), tc.name)
		assert.True(t, bytes.Equal(tc.want, got), tc.name)
	}
	_, err := o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 100_000}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
	_, err = o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 200_000, Length: 1}})
	assert.ErrorIs(t, err, storage.ErrInvalidRange)
	_, err = o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: -1}})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Length: -1}})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func (s *suite) testChunks(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := randomBytes(10_000)
	o := put(t, c, "chunked", data, nil)
	var got []byte
	var sizes []int
	for chunk, err := range o.Chunks(ctx, 4096) {
		require.NoError(t, err)
		got = append(got, chunk...)
		sizes = append(sizes, len(chunk))
	}
	assert.Equal(t, []int{4096, 4096, 1808}, sizes)
	assert.Equal(t, data, got)
	for _, err := range o.Chunks(ctx, 0) {
		assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	}
	// Breaking out early is fine.
	for range o.Chunks(ctx, 100) {
		break
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	put(t, c, "over", []byte("first version"), &storage.UploadOptions{Metadata: map[string]string{"v": "1"}})
	second := []byte("second")
	o := put(t, c, "over", second, nil)
	assert.Equal(t, md5hex(second), o.Hash)
	got, err := c.GetObject(ctx, "over")
	require.NoError(t, err)
	assert.Equal(t, int64(len(second)), got.Size)
	assert.Empty(t, got.Metadata, "an overwrite replaces the metadata too")
	assert.Equal(t, second, read(t, got, nil))
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Len(t, objs, 1)
}

// weirdNames are names every driver must store and list as given.
var weirdNames = []string{
	"with space", "percent%20sign", "plus+sign", "question?mark", "hash#sign",
	"ünïcødé/日本語/名前", "emoji-🙂", "amp&semi;colon", "quote'double\"", "tilde~star*",
	"brackets[1]{2}(3)", "equals=comma,", "dir/sub dir/file name.txt", "trailing.dot.",
}

func (s *suite) testWeirdNames(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	for _, name := range weirdNames {
		data := []byte("content of " + name)
		put(t, c, name, data, nil)
		o, err := c.GetObject(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, name, o.Name)
		assert.Equal(t, data, read(t, o, nil), name)
	}
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	want := slices.Clone(weirdNames)
	slices.Sort(want)
	assert.Equal(t, want, names(objs))
}

func (s *suite) testLongNames(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	// Segments of 199 bytes fit every file system's limit on one name.
	b := bytes.Repeat([]byte("n"), s.h.MaxObjectNameBytes)
	for i := 199; i < len(b)-1; i += 200 {
		b[i] = '/'
	}
	name := string(b)
	require.Len(t, name, s.h.MaxObjectNameBytes)
	put(t, c, name, []byte("long"), nil)
	o, err := c.GetObject(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, name, o.Name)
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Equal(t, []string{name}, names(objs))
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), name+"z", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
}

func (s *suite) testListOrder(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	// Byte order of the full name: "a/b" sorts after "a-b" and "a.b".
	list := []string{"a/b", "a-b", "a.b", "a0", "a~", "a/a/z", "a/b0", "b", "A", "_", "a/bb/c"}
	for _, n := range list {
		put(t, c, n, []byte(n), nil)
	}
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	want := slices.Clone(list)
	slices.Sort(want)
	assert.Equal(t, want, names(objs))
	// The same order across pages of one.
	objs, err = c.ListObjects(ctx, &storage.ListOptions{PageSize: 1}).Collect()
	require.NoError(t, err)
	assert.Equal(t, want, names(objs))
}

func (s *suite) testListPrefixDelimiter(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	for _, n := range []string{"photos/2024/jan.jpg", "photos/2024/feb.jpg", "photos/2025/mar.jpg",
		"photos/index.html", "photos-old/x", "videos/a.mp4", "readme"} {
		put(t, c, n, []byte(n), nil)
	}
	list := func(opts storage.ListOptions) []string {
		objs, err := c.ListObjects(ctx, &opts).Collect()
		require.NoError(t, err)
		return names(objs)
	}
	assert.Equal(t, []string{"photos/2024/feb.jpg", "photos/2024/jan.jpg", "photos/2025/mar.jpg", "photos/index.html"},
		list(storage.ListOptions{Prefix: "photos/"}))
	assert.Equal(t, []string{"photos-old/x", "photos/2024/feb.jpg", "photos/2024/jan.jpg", "photos/2025/mar.jpg", "photos/index.html"},
		list(storage.ListOptions{Prefix: "photos"}))
	assert.Equal(t, []string{"photos/2024/feb.jpg", "photos/2024/jan.jpg"}, list(storage.ListOptions{Prefix: "photos/2024/"}))
	assert.Equal(t, []string{"photos/2024/jan.jpg"}, list(storage.ListOptions{Prefix: "photos/2024/j"}))
	assert.Empty(t, list(storage.ListOptions{Prefix: "nothing/"}))
	assert.Empty(t, list(storage.ListOptions{Prefix: "readme/"}))

	want := []string{"photos-old/ (prefix)", "photos/ (prefix)", "readme", "videos/ (prefix)"}
	assert.Equal(t, want, list(storage.ListOptions{Delimiter: "/"}))
	assert.Equal(t, want, list(storage.ListOptions{Delimiter: "/", PageSize: 1}))
	assert.Equal(t, []string{"photos/2024/ (prefix)", "photos/2025/ (prefix)", "photos/index.html"},
		list(storage.ListOptions{Prefix: "photos/", Delimiter: "/"}))
	assert.Equal(t, []string{"photos/2024/ (prefix)", "photos/2025/ (prefix)", "photos/index.html"},
		list(storage.ListOptions{Prefix: "photos/", Delimiter: "/", PageSize: 1}))
	assert.Equal(t, []string{"photos-old/ (prefix)", "photos/ (prefix)"}, list(storage.ListOptions{Prefix: "photos", Delimiter: "/"}))
	// Any delimiter, not only "/".
	assert.Equal(t, []string{"photos/2 (prefix)", "photos/index.html"},
		list(storage.ListOptions{Prefix: "photos/", Delimiter: "2"}))
	if s.h.NoMultiByteDelimiter != "" {
		t.Logf("multi-byte delimiter not checked: %s", s.h.NoMultiByteDelimiter)
		return
	}
	assert.Equal(t, []string{"photos/2024/feb.jpg", "photos/2024/jan.jpg", "photos/2025/ (prefix)"},
		list(storage.ListOptions{Prefix: "photos/20", Delimiter: "5/"}))
}

func (s *suite) testPagination(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	const n = 2500
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("page/%02d/obj-%05d", i%7, i)
	}
	parallel(t, 16, n, func(i int) error {
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader(want[i]), want[i], nil)
		return err
	})
	slices.Sort(want)

	l := c.ListObjects(ctx, &storage.ListOptions{PageSize: 100})
	var got []string
	for o, err := range l.All() {
		require.NoError(t, err)
		got = append(got, o.Name)
	}
	assert.Equal(t, want, got)
	objs, err := c.ListObjects(ctx, &storage.ListOptions{Prefix: "page/03/", PageSize: 77}).Collect()
	require.NoError(t, err)
	var want3 []string
	for _, w := range want {
		if strings.HasPrefix(w, "page/03/") {
			want3 = append(want3, w)
		}
	}
	assert.Equal(t, want3, names(objs))
	objs, err = c.ListObjects(ctx, &storage.ListOptions{Delimiter: "/", Prefix: "page/", PageSize: 3}).Collect()
	require.NoError(t, err)
	assert.Len(t, objs, 7)

	// Breaking out of a range stops the listing cleanly.
	count := 0
	for _, err := range c.ListObjects(ctx, &storage.ListOptions{PageSize: 100}).All() {
		require.NoError(t, err)
		if count++; count == 150 {
			break
		}
	}
	assert.Equal(t, 150, count)
}

func (s *suite) testResume(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("r/%03d", i)
		want = append(want, name)
		put(t, c, name, []byte(name), nil)
	}
	// Stop after 10 items with pages of 4: mid-page, then resume. Items may
	// repeat (at least once) but none is lost.
	l := c.ListObjects(ctx, &storage.ListOptions{PageSize: 4})
	var first []string
	for len(first) < 10 && l.Next() {
		first = append(first, l.Item().Name)
	}
	require.NoError(t, l.Err())
	token := l.Token()
	l.Close()
	require.NotEmpty(t, token)
	rest, err := c.ListObjects(ctx, &storage.ListOptions{PageSize: 4, StartToken: token}).Collect()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, n := range append(first, names(rest)...) {
		seen[n] = true
	}
	assert.Len(t, seen, len(want))
	assert.LessOrEqual(t, len(first)+len(rest), len(want)+4, "at most one page repeats")

	// At a page boundary the resume is exact.
	l = c.ListObjects(ctx, &storage.ListOptions{PageSize: 5})
	var head []string
	for len(head) < 5 && l.Next() {
		head = append(head, l.Item().Name)
	}
	rest, err = c.ListObjects(ctx, &storage.ListOptions{PageSize: 5, StartToken: l.Token()}).Collect()
	require.NoError(t, err)
	assert.Equal(t, want, append(head, names(rest)...))
}

// cancelAfter is a reader that cancels a context once it has given n bytes
// and then keeps giving data.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	r.n -= len(p)
	for i := range p {
		p[i] = 'c'
	}
	return len(p), nil
}

func (s *suite) testCancelledUpload(t *testing.T) {
	c := s.newContainer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := c.UploadObjectViaStream(ctx, &cancelAfter{n: 6 << 20, cancel: cancel}, "cancelled", nil)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = c.GetObject(context.Background(), "cancelled")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound, "a cancelled upload left an object")

	// A cancelled overwrite leaves the old object whole.
	put(t, c, "kept", []byte("old"), nil)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err = c.UploadObjectViaStream(ctx, &cancelAfter{n: 6 << 20, cancel: cancel}, "kept", nil)
	assert.ErrorIs(t, err, context.Canceled)
	o, err := c.GetObject(context.Background(), "kept")
	require.NoError(t, err)
	assert.Equal(t, []byte("old"), read(t, o, nil))

	done, stop := context.WithCancel(context.Background())
	stop()
	_, err = c.UploadObjectViaStream(done, strings.NewReader("x"), "never", nil)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = c.GetObject(context.Background(), "never")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
}

func (s *suite) testCancelledDownload(t *testing.T) {
	c := s.newContainer(t)
	data := randomBytes(20 << 20)
	o := put(t, c, "big", data, nil)
	dir := t.TempDir()
	dest := filepath.Join(dir, "big")

	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	err := o.Download(ctx, dest, &storage.DownloadOptions{Progress: func(done, total int64) {
		if done > 1<<20 {
			once.Do(cancel)
		}
	}})
	assert.ErrorIs(t, err, context.Canceled)
	assert.NoFileExists(t, dest)
	assert.Empty(t, dirEntries(t, dir), "a cancelled download left a file")

	err = o.Download(ctx, dest, nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, dirEntries(t, dir))

	// A cancelled stream stops reading.
	ctx, cancel = context.WithCancel(context.Background())
	r, err := o.AsStream(ctx, nil)
	require.NoError(t, err)
	buf := make([]byte, 1024)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, r)
	assert.ErrorIs(t, err, context.Canceled)
	r.Close()
}

func (s *suite) testConcurrency(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	const workers = 16
	shared := "shared"
	versions := make([][]byte, workers)
	valid := map[string]bool{}
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('A' + i)}, 256<<10+i)
		valid[md5hex(versions[i])] = true
	}
	put(t, c, shared, versions[0], nil)
	parallel(t, workers, workers*4, func(i int) error {
		w := i % workers
		own := fmt.Sprintf("own-%02d", w)
		data := versions[w]
		switch i / workers {
		case 0, 2:
			// Concurrent writers of one name leave one whole version.
			if _, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), shared, nil); err != nil {
				return err
			}
			_, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), own, nil)
			return err
		default:
			o, err := c.GetObject(ctx, shared)
			if err != nil {
				return err
			}
			r, err := o.AsStream(ctx, &storage.StreamOptions{SkipHashCheck: true})
			if err != nil {
				return err
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				return err
			}
			if !valid[md5hex(b)] {
				return fmt.Errorf("read a mix of versions of %q (%d bytes)", shared, len(b))
			}
			dest := filepath.Join(t.TempDir(), "d")
			if err := o.Download(ctx, dest, &storage.DownloadOptions{SkipHashCheck: true}); err != nil {
				return err
			}
			b, err = os.ReadFile(dest)
			if err != nil {
				return err
			}
			if !valid[md5hex(b)] {
				return fmt.Errorf("downloaded a mix of versions of %q", shared)
			}
			return nil
		}
	})
	o, err := c.GetObject(ctx, shared)
	require.NoError(t, err)
	assert.True(t, valid[md5hex(read(t, o, nil))])
	for w := range workers {
		o, err := c.GetObject(ctx, fmt.Sprintf("own-%02d", w))
		require.NoError(t, err)
		assert.Equal(t, md5hex(versions[w]), md5hex(read(t, o, nil)))
	}
}

// parallel runs fn(0..n-1) on the given number of goroutines and fails the
// test with the first error.
func parallel(t *testing.T, workers, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
