package local_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/local"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver {
			d, err := local.New(local.Options{Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}

func newDriver(t *testing.T) (*local.Driver, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	d, err := local.New(local.Options{Root: root})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d, root
}

// tree lists every path under dir, relative to it.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	return out
}

func TestTraversalIsRefused(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	sandbox := filepath.Dir(root)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	before := tree(t, sandbox)
	for _, name := range []string{"../x", "../../x", "a/../../x", "/abs", "/etc/passwd", "./a", "a//b", "a/./b",
		"a/../b", ".", "..", "a/", "nul\x00", "a/b/.."} {
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader("x"), name, nil)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "upload %q", name)
		_, err = c.GetObject(ctx, name)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "get %q", name)
		assert.ErrorIs(t, storage.NewObject(c, name).Delete(ctx), storage.ErrInvalidName, "delete %q", name)
		err = storage.NewObject(c, name).Download(ctx, filepath.Join(sandbox, "dl"), nil)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "download %q", name)
	}
	for _, name := range []string{"..", ".stowage-tmp", "../c", "/abs", ".hidden"} {
		_, err := d.CreateContainer(ctx, name)
		assert.ErrorIs(t, err, storage.ErrInvalidName, "container %q", name)
		_, err = c.Driver().GetObject(ctx, name, "x")
		assert.ErrorIs(t, err, storage.ErrInvalidName, "container %q", name)
	}
	assert.Equal(t, before, tree(t, sandbox), "a refused name changed the file system")
}

func TestSymlinkOutsideIsRefused(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	outside := filepath.Join(filepath.Dir(root), "outside")
	require.NoError(t, os.Mkdir(outside, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600))
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "c", "link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "evil")))

	_, err = c.GetObject(ctx, "link/secret")
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "link/planted", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	_, err = storage.NewObject(c, "link/secret").AsStream(ctx, nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	assert.ErrorIs(t, storage.NewObject(c, "link/secret").Delete(ctx), storage.ErrInvalidName)
	_, err = d.GetObject(ctx, "evil", "secret")
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	assert.Equal(t, []string{"secret"}, tree(t, outside))

	// Links are not objects, nor containers.
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Empty(t, objs)
	cs, err := d.ListContainers(ctx).Collect()
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "c", cs[0].Name)
}

func TestFolderConflicts(t *testing.T) {
	ctx := context.Background()
	d, _ := newDriver(t)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("file"), "a", nil)
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "a/b", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "d/e", nil)
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "d", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	_, err = c.GetObject(ctx, "d")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound, "a folder of objects is not an object")
	assert.ErrorIs(t, storage.NewObject(c, "d").Delete(ctx), storage.ErrObjectNotFound)
	_, err = c.GetObject(ctx, "a/b")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	assert.Len(t, objs, 2)
}

func TestDeleteRemovesEmptyFolders(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	for _, n := range []string{"x/y/z/1", "x/y/2", "x/3"} {
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader(n), n, nil)
		require.NoError(t, err)
	}
	require.NoError(t, storage.NewObject(c, "x/y/z/1").Delete(ctx))
	assert.Equal(t, []string{"x", "x/3", "x/y", "x/y/2"}, tree(t, filepath.Join(root, "c")))
	require.NoError(t, storage.NewObject(c, "x/y/2").Delete(ctx))
	require.NoError(t, storage.NewObject(c, "x/3").Delete(ctx))
	assert.Empty(t, tree(t, filepath.Join(root, "c")))
	require.NoError(t, c.Delete(ctx))
}

func TestHashOfChangedFileIsDropped(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	o, err := c.UploadObjectViaStream(ctx, strings.NewReader("original"), "f.txt", &storage.UploadOptions{
		Metadata: map[string]string{"k": "v"},
	})
	require.NoError(t, err)
	require.NotEmpty(t, o.Hash)
	// Another program rewrites the file in place.
	p := filepath.Join(root, "c", "f.txt")
	require.NoError(t, os.WriteFile(p, []byte("changed!"), 0o600))
	got, err := c.GetObject(ctx, "f.txt")
	require.NoError(t, err)
	assert.Empty(t, got.Hash, "a hash of other content must not be reported")
	assert.Equal(t, map[string]string{"k": "v"}, got.Metadata)
	assert.NotEqual(t, o.ETag, got.ETag)
	dest := filepath.Join(t.TempDir(), "out")
	require.NoError(t, got.Download(ctx, dest, nil))
}

func TestCorruptionIsDetected(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("precious data"), "f", nil)
	require.NoError(t, err)
	// Flip a byte behind the driver's back, keeping size and time, as bit
	// rot would.
	p := filepath.Join(root, "c", "f")
	fi, err := os.Stat(p)
	require.NoError(t, err)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("P"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))

	o, err := c.GetObject(ctx, "f")
	require.NoError(t, err)
	dir := t.TempDir()
	err = o.Download(ctx, filepath.Join(dir, "out"), nil)
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	assert.Empty(t, tree(t, dir), "a corrupt download left a file")
	r, err := o.AsStream(ctx, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	r.Close()
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
	require.NoError(t, o.Download(ctx, filepath.Join(dir, "out"), &storage.DownloadOptions{SkipHashCheck: true}))
}

func TestAbandonedTempFilesAreRemoved(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := local.New(local.Options{Root: root})
	require.NoError(t, err)
	d.Close()
	tmp := filepath.Join(root, ".stowage-tmp")
	old := filepath.Join(tmp, "0123456789abcdef.stowage-tmp")
	fresh := filepath.Join(tmp, "fedcba9876543210.stowage-tmp")
	other := filepath.Join(tmp, "not-ours")
	for _, p := range []string{old, fresh, other} {
		require.NoError(t, os.WriteFile(p, []byte("half"), 0o600))
	}
	long := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(old, long, long))
	d, err = local.New(local.Options{Root: root})
	require.NoError(t, err)
	defer d.Close()
	assert.NoFileExists(t, old)
	assert.FileExists(t, fresh, "a recent file may belong to a live writer")
	assert.FileExists(t, other)
	cs, err := d.ListContainers(context.Background()).Collect()
	require.NoError(t, err)
	assert.Empty(t, cs, "the temporary folder is not a container")
}
