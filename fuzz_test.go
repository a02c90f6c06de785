package storage_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/memory"
)

// FuzzOpenURL: any string gives a driver or an error, never a panic, and
// an error never repeats a password given in the URL. URLs of the local
// driver are left out: they would make folders anywhere on the machine.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{"mem://", "file:///tmp/x", "mem://?a=1&a=2", "::", "mem://u:p@h", "%", "file://?path=",
		"s3://?region=x", "mem://?%zz", "file:///\x00", "MEM://", "mem:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, perr := url.Parse(raw)
		if perr == nil && (u.Scheme == "file" || u.Scheme == "local") {
			return // would make folders on this machine
		}
		d, err := storage.OpenURL(context.Background(), raw)
		if err == nil {
			if d == nil {
				t.Fatal("nil driver without an error")
			}
			d.Close()
			return
		}
		if perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q repeats the URL's password", err)
			}
		}
	})
}

// FuzzRange: Resolve never panics, and what it accepts lies inside the
// object.
func FuzzRange(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0))
	f.Add(int64(5), int64(10), int64(100))
	f.Add(int64(-1), int64(3), int64(10))
	f.Add(int64(1<<62), int64(1<<62), int64(1<<62))
	f.Fuzz(func(t *testing.T, off, length, size int64) {
		if size < 0 {
			return
		}
		o, n, err := storage.Range{Offset: off, Length: length}.Resolve(size)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalidArgument) && !errors.Is(err, storage.ErrInvalidRange) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if o < 0 || n < 0 || o+n > size || (length > 0 && n > length) {
			t.Fatalf("Range{%d,%d}.Resolve(%d) = %d, %d", off, length, size, o, n)
		}
	})
}

// FuzzListToken: any start token gives the names after it, in order, and
// never a panic.
func FuzzListToken(f *testing.F) {
	ctx := context.Background()
	d := memory.New()
	c, _ := d.CreateContainer(ctx, "fuzz")
	names := []string{"a", "a/b", "a/c/d", "b", "b-", "é", "z/z"}
	for _, n := range names {
		_, _ = c.UploadObjectViaStream(ctx, strings.NewReader(n), n, nil)
	}
	for _, s := range []string{"", "a", "a/", "a/b", "\xff", "zzz", "a\x00"} {
		f.Add(s, "", "/")
	}
	f.Fuzz(func(t *testing.T, token, prefix, delim string) {
		objs, err := c.ListObjects(ctx, &storage.ListOptions{StartToken: token, Prefix: prefix, Delimiter: delim, PageSize: 2}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range objs {
			if o.Name <= token && !o.IsPrefix {
				t.Fatalf("token %q listed %q", token, o.Name)
			}
			if !strings.HasPrefix(o.Name, prefix) {
				t.Fatalf("prefix %q listed %q", prefix, o.Name)
			}
			if i > 0 && objs[i-1].Name >= o.Name {
				t.Fatalf("out of order: %q then %q", objs[i-1].Name, o.Name)
			}
		}
	})
}
