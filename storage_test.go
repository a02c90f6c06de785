package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	_ "github.com/stowage/storage/drivers/local"
	"github.com/stowage/storage/drivers/memory"
)

func TestDriversSorted(t *testing.T) {
	names := storage.Drivers()
	assert.Subset(t, names, []string{"local", "memory"})
	assert.IsIncreasing(t, names)
}

func TestRegisterPanics(t *testing.T) {
	open := func(ctx context.Context, cfg storage.Config) (storage.Driver, error) { return memory.New(), nil }
	assert.PanicsWithValue(t, "storage: Register called twice for driver memory", func() { storage.Register("memory", open) })
	assert.Panics(t, func() { storage.Register("test-nil", nil) })
	assert.Panics(t, func() { storage.Register("test-scheme-dup", open, "mem") }, "a URL scheme taken by another driver")
	storage.Register("test-ok", open, "test-ok-scheme")
	d, err := storage.OpenURL(context.Background(), "test-ok-scheme://")
	require.NoError(t, err)
	assert.NotNil(t, d)
}

func TestOpenUnknownListsDrivers(t *testing.T) {
	_, err := storage.Open(context.Background(), "nope", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"nope"`)
	assert.Contains(t, err.Error(), "local, memory")
	_, err = storage.OpenURL(context.Background(), "nope://x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "local, memory")
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := storage.OpenURL(ctx, "file://"+dir)
	require.NoError(t, err)
	defer d.Close()
	_, err = d.CreateContainer(ctx, "made-by-url")
	require.NoError(t, err)
	assert.DirExists(t, dir+"/made-by-url")

	d2, err := storage.Open(ctx, "local", storage.Config{"path": dir})
	require.NoError(t, err)
	_, err = d2.GetContainer(ctx, "made-by-url")
	require.NoError(t, err)

	m, err := storage.OpenURL(ctx, "mem://")
	require.NoError(t, err)
	assert.IsType(t, &memory.Driver{}, m)

	bad := []string{
		"",                               // no scheme
		"::::",                           // unparsable
		"mem://?unknown=1",               // unknown setting
		"file://" + dir + "?x=1",         // unknown setting
		"mem://?a=1&a=2",                 // repeated setting
		"file://user:secret@/x",          // credentials in the user part
		"file://" + dir + "?path=" + dir, // the path twice
	}
	for _, u := range bad {
		_, err := storage.OpenURL(ctx, u)
		assert.Error(t, err, u)
		if err != nil {
			assert.NotContains(t, err.Error(), "secret", "an error quoted the URL's password")
		}
	}
	_, err = storage.OpenURL(ctx, "mem://?unknown=1")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "unknown")
	_, err = storage.Open(ctx, "local", storage.Config{})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestErrorWrapsKindAndCause(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	err := storage.NewError("local", "GetObject", "c", "o", storage.ErrObjectNotFound, cause)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/x", pe.Path)
	var se *storage.Error
	require.ErrorAs(t, fmt.Errorf("wrapped: %w", err), &se)
	assert.Equal(t, "GetObject", se.Op)
	assert.Equal(t, `local: GetObject "c"/"o": object not found: open /x: file does not exist`, err.Error())
	assert.False(t, errors.Is(err, storage.ErrContainerNotFound))

	long := storage.NewError("memory", "GetObject", "c", strings.Repeat("n", 1000), nil, nil)
	assert.Less(t, len(long.Error()), 300, "long names are shortened in messages")
}

func TestRangeResolve(t *testing.T) {
	cases := []struct {
		r         storage.Range
		size      int64
		off, n    int64
		wantError error
	}{
		{storage.Range{}, 100, 0, 100, nil},
		{storage.Range{Offset: 10}, 100, 10, 90, nil},
		{storage.Range{Offset: 10, Length: 5}, 100, 10, 5, nil},
		{storage.Range{Offset: 99, Length: 5}, 100, 99, 1, nil},
		{storage.Range{}, 0, 0, 0, nil},
		{storage.Range{Offset: 100}, 100, 0, 0, storage.ErrInvalidRange},
		{storage.Range{Offset: 1}, 0, 0, 0, storage.ErrInvalidRange},
		{storage.Range{Offset: -1}, 100, 0, 0, storage.ErrInvalidArgument},
		{storage.Range{Length: -1}, 100, 0, 0, storage.ErrInvalidArgument},
	}
	for _, c := range cases {
		off, n, err := c.r.Resolve(c.size)
		if c.wantError != nil {
			assert.ErrorIs(t, err, c.wantError, "%+v of %d", c.r, c.size)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, [2]int64{c.off, c.n}, [2]int64{off, n}, "%+v of %d", c.r, c.size)
	}
}

func TestUploadOptionsValidate(t *testing.T) {
	var nilOpts *storage.UploadOptions
	assert.NoError(t, nilOpts.Validate())
	assert.NoError(t, (&storage.UploadOptions{MD5: "d41d8cd98f00b204e9800998ecf8427e"}).Validate())
	for _, bad := range []string{"D41D8CD98F00B204E9800998ECF8427E", "abc", "zz1d8cd98f00b204e9800998ecf8427e"} {
		assert.ErrorIs(t, (&storage.UploadOptions{MD5: bad}).Validate(), storage.ErrInvalidArgument, bad)
	}
}

func TestNilReceivers(t *testing.T) {
	ctx := context.Background()
	var c *storage.Container
	_, err := c.GetObject(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.ErrorIs(t, c.Delete(ctx), storage.ErrInvalidArgument)
	_, err = c.ListObjects(ctx, nil).Collect()
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	var o *storage.Object
	assert.ErrorIs(t, o.Delete(ctx), storage.ErrInvalidArgument)
	_, err = o.AsStream(ctx, nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.ErrorIs(t, o.Download(ctx, "x", nil), storage.ErrInvalidArgument)
	for _, err := range o.Chunks(ctx, 10) {
		assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	}
	assert.Nil(t, o.Driver())
	zero := &storage.Container{Name: "no-driver"}
	_, err = zero.GetObject(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func Example() {
	ctx := context.Background()
	d, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		panic(err)
	}
	defer d.Close()
	c, _ := d.CreateContainer(ctx, "photos")
	_, _ = c.UploadObjectViaStream(ctx, strings.NewReader("jpeg bytes"), "2026/cat.jpg", nil)
	for o, err := range c.ListObjects(ctx, nil).All() {
		if err != nil {
			panic(err)
		}
		fmt.Println(o.Name, o.Size, o.ContentType)
	}
	_, err = c.GetObject(ctx, "2026/dog.jpg")
	fmt.Println(errors.Is(err, storage.ErrObjectNotFound))
	// Output:
	// 2026/cat.jpg 10 image/jpeg
	// true
}

func TestConfigNumbers(t *testing.T) {
	cfg := storage.Config{"size": "1048576", "n": "4", "bad": "4k"}
	var size int64 = 7
	n := 2
	require.NoError(t, cfg.Int64("size", &size))
	require.NoError(t, cfg.Int("n", &n))
	assert.Equal(t, int64(1<<20), size)
	assert.Equal(t, 4, n)
	missing := 9
	require.NoError(t, cfg.Int("absent", &missing))
	assert.Equal(t, 9, missing, "an absent setting leaves the default")
	err := cfg.Int("bad", &n)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "bad")
}
