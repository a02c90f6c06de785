package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage/storage"
)

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	from, err := demoStore(ctx, "photos")
	if err != nil {
		t.Fatal(err)
	}
	to := "file://" + filepath.ToSlash(t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	var out bytes.Buffer
	if err := run(ctx, []string{"-from", from, "-to", to, "-state", state}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "250 copied, 0 already there, 0 failed") {
		t.Fatalf("output: %s", out.String())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("a finished run leaves no state file")
	}
	// Everything arrived whole, with its metadata.
	src, _ := storage.OpenURL(ctx, from)
	dst, _ := storage.OpenURL(ctx, to)
	sc, _ := src.GetContainer(ctx, "photos")
	dc, _ := dst.GetContainer(ctx, "photos")
	want, err := sc.ListObjects(ctx, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got, err := dc.ListObjects(ctx, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d objects at the destination, %d at the source", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Hash != want[i].Hash || got[i].Size != want[i].Size {
			t.Fatalf("object %d: %s %s, want %s %s", i, got[i].Name, got[i].Hash, want[i].Name, want[i].Hash)
		}
	}
	o, _ := dc.GetObject(ctx, want[0].Name)
	if o.Metadata["camera"] != "demo" {
		t.Fatalf("metadata %v", o.Metadata)
	}

	// A second run copies nothing; a run resumed from a saved position
	// starts after it.
	out.Reset()
	if err := run(ctx, []string{"-from", from, "-to", to}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 copied, 250 already there") {
		t.Fatalf("second run: %s", out.String())
	}
	l := sc.ListObjects(ctx, &storage.ListOptions{PageSize: 100})
	l.NextPage()
	if err := os.WriteFile(state, []byte(l.Token()), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"-from", from, "-to", to, "-state", state}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "resuming") || !strings.Contains(out.String(), "0 copied, 150 already there") {
		t.Fatalf("resumed run: %s", out.String())
	}
}
