package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocloud.dev/blob"

	"github.com/stowage/storage"
)

// lib is one way of doing the benchmark's work against one backend: Stowage,
// the provider's own SDK used as its documentation recommends, or
// gocloud.dev/blob.
type lib interface {
	put(ctx context.Context, key string, data []byte) error
	get(ctx context.Context, key string) error
	uploadFile(ctx context.Context, key, path string) error
	downloadFile(ctx context.Context, key, path string) error
	uploadStream(ctx context.Context, key string, r io.Reader) error
	list(ctx context.Context, prefix string) (int, error)
}

// stowageLib drives any Stowage container; unverified skips the hash
// checks, to show what they cost.
type stowageLib struct {
	c          *storage.Container
	unverified bool
}

func (l stowageLib) put(ctx context.Context, key string, data []byte) error {
	_, err := l.c.UploadObjectViaStream(ctx, bytes.NewReader(data), key, nil)
	return err
}

// get reads an object known by name only, as the other libraries do: no
// HEAD before the GET.
func (l stowageLib) get(ctx context.Context, key string) error {
	return drain(storage.NewObject(l.c, key).AsStream(ctx, nil))
}

func (l stowageLib) uploadFile(ctx context.Context, key, path string) error {
	_, err := l.c.UploadObject(ctx, path, key, &storage.UploadOptions{SkipHashCheck: l.unverified})
	return err
}

func (l stowageLib) downloadFile(ctx context.Context, key, path string) error {
	return storage.NewObject(l.c, key).Download(ctx, path, &storage.DownloadOptions{Overwrite: true, SkipHashCheck: l.unverified})
}

func (l stowageLib) uploadStream(ctx context.Context, key string, r io.Reader) error {
	_, err := l.c.UploadObjectViaStream(ctx, r, key, nil)
	return err
}

func (l stowageLib) list(ctx context.Context, prefix string) (int, error) {
	n := 0
	for _, err := range l.c.ListObjects(ctx, &storage.ListOptions{Prefix: prefix, PageSize: 1000}).All() {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// binary is the content type gocloud's Upload requires, as the others
// default to it.
var binary = &blob.WriterOptions{ContentType: "application/octet-stream"}

// gocloudLib drives a gocloud.dev/blob bucket with its defaults.
type gocloudLib struct{ b *blob.Bucket }

func (l gocloudLib) put(ctx context.Context, key string, data []byte) error {
	return l.b.WriteAll(ctx, key, data, nil)
}

func (l gocloudLib) get(ctx context.Context, key string) error {
	return drain(l.b.NewReader(ctx, key, nil))
}

func (l gocloudLib) uploadFile(ctx context.Context, key, path string) error {
	return readFile(path, func(f *os.File) error { return l.b.Upload(ctx, key, f, binary) })
}

func (l gocloudLib) downloadFile(ctx context.Context, key, path string) error {
	return writeFile(path, func(f *os.File) error { return l.b.Download(ctx, key, f, nil) })
}

func (l gocloudLib) uploadStream(ctx context.Context, key string, r io.Reader) error {
	return l.b.Upload(ctx, key, r, binary)
}

func (l gocloudLib) list(ctx context.Context, prefix string) (int, error) {
	n := 0
	token := blob.FirstPageToken
	for {
		objs, next, err := l.b.ListPage(ctx, token, 1000, &blob.ListOptions{Prefix: prefix})
		if err != nil {
			return n, err
		}
		n += len(objs)
		if len(next) == 0 {
			return n, nil
		}
		token = next
	}
}

// readFile opens path for use.
func readFile(path string, use func(*os.File) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return use(f)
}

// drain reads what an open call returned to its end.
func drain[R io.ReadCloser](r R, err error) error {
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

// writeFile creates path, lets fill write it, and syncs it: what a careful
// program does with a download, and what Stowage does.
func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// osLib is the physical baseline for the local backend: plain files under
// root, copied with io.Copy and synced.
type osLib struct{ root string }

func (l osLib) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

func (l osLib) put(_ context.Context, key string, data []byte) error {
	p := l.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := writeFile(tmp, func(f *os.File) error { _, err := f.Write(data); return err }); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (l osLib) get(_ context.Context, key string) error {
	return drain(os.Open(l.path(key)))
}

func (l osLib) copyFile(dst, src string) error {
	return readFile(src, func(in *os.File) error {
		return writeFile(dst, func(f *os.File) error { _, err := io.Copy(f, in); return err })
	})
}

func (l osLib) uploadFile(_ context.Context, key, path string) error {
	p := l.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return l.copyFile(p, path)
}

func (l osLib) downloadFile(_ context.Context, key, path string) error {
	return l.copyFile(path, l.path(key))
}

func (l osLib) uploadStream(_ context.Context, key string, r io.Reader) error {
	p := l.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFile(p, func(f *os.File) error { _, err := io.Copy(f, r); return err })
}

func (l osLib) list(_ context.Context, prefix string) (int, error) {
	entries, err := os.ReadDir(l.path(prefix))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			n++
		}
	}
	return n, nil
}

func checkCount(n, want int, err error) error {
	if err == nil && n != want {
		err = fmt.Errorf("listed %d of %d", n, want)
	}
	return err
}
