// Command backup streams a tar archive of a folder straight into a
// container with UploadObjectViaStream: no temporary file, memory bounded
// by the driver's part size whatever the folder's size. It is the seed's
// own example of a stream upload.
//
//	go run ./examples/backup -src ~/Documents
//	go run ./examples/backup -src ~/Documents -url 's3://?region=eu-west-1' -container backups
//
// Without -url it writes to the local driver in a temporary folder.
package main

import (
	"archive/tar"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/stowage/storage"
	_ "github.com/stowage/storage/drivers/azure"
	_ "github.com/stowage/storage/drivers/gcs"
	_ "github.com/stowage/storage/drivers/local"
	_ "github.com/stowage/storage/drivers/memory"
	_ "github.com/stowage/storage/drivers/s3"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("backup", flag.ContinueOnError)
	src := fl.String("src", ".", "folder to back up")
	rawURL := fl.String("url", "", "storage URL (default: the local driver in a temporary folder)")
	container := fl.String("container", "backups", "container to write to (created if missing)")
	name := fl.String("name", "", "object name (default: the folder's name and the time)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *rawURL == "" {
		dir, err := os.MkdirTemp("", "stowage-backup-")
		if err != nil {
			return err
		}
		*rawURL = "file://" + filepath.ToSlash(dir)
	}
	if *name == "" {
		abs, _ := filepath.Abs(*src)
		*name = fmt.Sprintf("%s-%s.tar", filepath.Base(abs), time.Now().UTC().Format("20060102T150405Z"))
	}
	d, err := storage.OpenURL(ctx, *rawURL)
	if err != nil {
		return err
	}
	defer d.Close()
	c, err := d.GetContainer(ctx, *container)
	if err != nil {
		if c, err = d.CreateContainer(ctx, *container); err != nil {
			return err
		}
	}

	// The archive is written into a pipe as the upload reads it.
	pr, pw := io.Pipe()
	files := 0
	go func() { pw.CloseWithError(writeTar(ctx, pw, *src, &files)) }()
	start := time.Now()
	o, err := c.UploadObjectViaStream(ctx, pr, *name, &storage.UploadOptions{
		ContentType: "application/x-tar",
		Progress: func(done, _ int64) {
			fmt.Fprintf(out, "\r%8.1f MiB sent", float64(done)/(1<<20))
		},
	})
	pr.CloseWithError(err) // stops the archiver if the upload failed
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nbacked up %d files of %s to %s/%s in %s: %d bytes, md5 %q\n",
		files, *src, c.Name, o.Name, time.Since(start).Round(time.Millisecond), o.Size, o.Hash)
	fmt.Fprintf(out, "storage: %s\n", *rawURL)
	return nil
}

// writeTar writes the folder root as a tar stream to w.
func writeTar(ctx context.Context, w io.Writer, root string, files *int) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // links, devices: not in this simple backup
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		*files++
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
