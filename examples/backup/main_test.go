package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage/storage"
)

func TestBackup(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	want := map[string]string{"a.txt": "alpha", "sub/b.txt": strings.Repeat("beta", 100_000)}
	for name, content := range want {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	var out bytes.Buffer
	url := "file://" + filepath.ToSlash(store)
	if err := run(ctx, []string{"-src", src, "-url", url, "-name", "b.tar"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "backed up 2 files") {
		t.Fatalf("output: %s", out.String())
	}
	// The archive in the store holds the folder.
	d, err := storage.OpenURL(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.GetObject(ctx, "backups", "b.tar")
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.AsStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	got := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			got[hdr.Name] = string(b)
		}
	}
	if len(got) != len(want) || got["a.txt"] != want["a.txt"] || got["sub/b.txt"] != want["sub/b.txt"] {
		t.Fatalf("archive holds %d files", len(got))
	}
}
