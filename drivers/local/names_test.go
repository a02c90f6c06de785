package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/memory"
)

// FuzzObjectName checks that no object name, accepted or not, makes the
// driver write, read or delete anything outside its root.
func FuzzObjectName(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "a/../../x", "/abs", "./a", "a//b", "..", ".", "a/.", "a\x00b",
		"link/x", "link/../../x", "c/../d", strings.Repeat("a/", 300), "\\..\\x", "a/b/", "ü/名"} {
		f.Add(s)
	}
	sandbox := f.TempDir()
	root := filepath.Join(sandbox, "root")
	outside := filepath.Join(sandbox, "outside")
	if err := os.MkdirAll(outside, 0o777); err != nil {
		f.Fatal(err)
	}
	d, err := New(Options{Root: root})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	c, err := d.CreateContainer(ctx, "c")
	if err != nil {
		f.Fatal(err)
	}
	// A symbolic link inside the container that points outside the root.
	if err := os.Symlink(outside, filepath.Join(root, "c", "link")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, perr := objectPath("c", name)
		if perr == nil {
			if !filepath.IsLocal(filepath.FromSlash(p)) || filepath.Clean(p) != p {
				t.Fatalf("objectPath(%q) = %q leaves the root or is not clean", name, p)
			}
		} else if !errors.Is(perr, storage.ErrInvalidName) {
			t.Fatalf("objectPath(%q): %v is not ErrInvalidName", name, perr)
		}
		_, err := c.UploadObjectViaStream(ctx, strings.NewReader("x"), name, nil)
		if perr != nil && !errors.Is(err, storage.ErrInvalidName) {
			t.Fatalf("upload of invalid name %q: %v", name, err)
		}
		if o, err := c.GetObject(ctx, name); err == nil {
			_ = o.Delete(ctx)
		}
		entries, err := os.ReadDir(outside)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > 0 {
			t.Fatalf("name %q wrote %q outside the root", name, entries[0].Name())
		}
		if err := filepath.WalkDir(sandbox, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(sandbox, p)
			if rel != "." && rel != "root" && rel != "outside" && !strings.HasPrefix(rel, "root"+string(filepath.Separator)) {
				t.Fatalf("name %q made %q outside the root", name, rel)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzListing compares the local driver's listings with the memory
// driver's, which keeps names in a sorted slice: for any start token,
// prefix, delimiter and page size both must list the same.
func FuzzListing(f *testing.F) {
	ctx := context.Background()
	d, err := New(Options{Root: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	m := memory.New()
	lc, _ := d.CreateContainer(ctx, "c")
	mc, _ := m.CreateContainer(ctx, "c")
	for _, n := range []string{"a", "a-b", "a.b", "a0/x", "a0/y/z", "ab/c", "b/c-d", "b/c/d", "b/c0", "bb", "é/ü", "z/z/z/z"} {
		for _, c := range []*storage.Container{lc, mc} {
			if _, err := c.UploadObjectViaStream(ctx, strings.NewReader(n), n, nil); err != nil {
				f.Fatal(err)
			}
		}
	}
	for _, s := range []string{"", "a", "a0/", "b/c", "b/c/", "\xff"} {
		f.Add(s, "", "/", 2)
		f.Add("", s, "", 1)
		f.Add(s, "b", "c", 3)
	}
	f.Fuzz(func(t *testing.T, token, prefix, delim string, pageSize int) {
		if pageSize < 1 || pageSize > 20 {
			return
		}
		opts := &storage.ListOptions{StartToken: token, Prefix: prefix, Delimiter: delim, PageSize: pageSize}
		want, werr := mc.ListObjects(ctx, opts).Collect()
		got, gerr := lc.ListObjects(ctx, opts).Collect()
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("memory: %v, local: %v", werr, gerr)
		}
		if len(got) != len(want) {
			t.Fatalf("%+v: local listed %d, memory %d: %v vs %v", opts, len(got), len(want), names(got), names(want))
		}
		for i := range got {
			if got[i].Name != want[i].Name || got[i].IsPrefix != want[i].IsPrefix {
				t.Fatalf("%+v: local %v, memory %v", opts, names(got), names(want))
			}
		}
	})
}

func names(objs []*storage.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}
