// Command quickstart runs the base API end to end on the local driver in a
// temporary folder, no account needed: create a container, upload a file and
// a stream, list lazily, download to a file, read a byte range, delete.
//
//	go run ./examples/quickstart
//
// Pass -url to run it on another provider, such as -url mem://.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/stowage/storage"
	_ "github.com/stowage/storage/drivers/local"
	_ "github.com/stowage/storage/drivers/memory"
)

func main() {
	rawURL := flag.String("url", "", "storage URL (default: the local driver in a temporary folder)")
	flag.Parse()
	if err := run(context.Background(), *rawURL, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, rawURL string, out io.Writer) error {
	work, err := os.MkdirTemp("", "stowage-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if rawURL == "" {
		rawURL = "file://" + filepath.ToSlash(filepath.Join(work, "store"))
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "• "+format+"\n", args...) }

	d, err := storage.OpenURL(ctx, rawURL)
	if err != nil {
		return err
	}
	defer d.Close()
	step("opened %s (drivers: %s)", rawURL, strings.Join(storage.Drivers(), ", "))

	c, err := d.CreateContainer(ctx, "quickstart")
	if err != nil {
		return err
	}
	step("created container %q", c.Name)

	src := filepath.Join(work, "notes.txt")
	if err := os.WriteFile(src, []byte("Stowage moves bytes to any object store.\n"), 0o600); err != nil {
		return err
	}
	o, err := c.UploadObject(ctx, src, "docs/notes.txt", nil)
	if err != nil {
		return err
	}
	step("uploaded file as %q: %d bytes, md5 %s, %s", o.Name, o.Size, o.Hash, o.ContentType)

	// A stream of unknown size: here a generator of numbered lines.
	pr, pw := io.Pipe()
	go func() {
		for i := range 10_000 {
			fmt.Fprintf(pw, "line %05d\n", i)
		}
		pw.Close()
	}()
	o, err = c.UploadObjectViaStream(ctx, pr, "logs/lines.log", &storage.UploadOptions{
		Metadata: map[string]string{"Source": "quickstart"},
	})
	if err != nil {
		return err
	}
	step("uploaded stream as %q: %d bytes, metadata %v", o.Name, o.Size, o.Metadata)

	for i := range 5 {
		name := fmt.Sprintf("logs/day-%d.log", i)
		if _, err := c.UploadObjectViaStream(ctx, strings.NewReader(name), name, nil); err != nil {
			return err
		}
	}
	step("listing, two objects a page:")
	for o, err := range c.ListObjects(ctx, &storage.ListOptions{PageSize: 2}).All() {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    %-16s %6d bytes\n", o.Name, o.Size)
	}
	step("folder-style listing of the root:")
	for o, err := range c.ListObjects(ctx, &storage.ListOptions{Delimiter: "/"}).All() {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    %s\n", o.Name)
	}

	o, err = c.GetObject(ctx, "logs/lines.log")
	if err != nil {
		return err
	}
	dest := filepath.Join(work, "lines.log")
	if err := o.Download(ctx, dest, nil); err != nil {
		return err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return err
	}
	step("downloaded %q to %s: %d bytes", o.Name, filepath.Base(dest), fi.Size())
	if err := o.Download(ctx, dest, nil); err != nil {
		step("downloading again is refused: %v", err)
	}

	r, err := o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 11 * 500, Length: 11}})
	if err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return err
	}
	step("byte range 5500-5510 of %q: %q", o.Name, b)

	objs, err := c.ListObjects(ctx, nil).Collect()
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := o.Delete(ctx); err != nil {
			return err
		}
	}
	if err := c.Delete(ctx); err != nil {
		return err
	}
	step("deleted %d objects and the container", len(objs))
	return nil
}
