// Command share makes a signed URL for an object: a link that grants GET
// (or PUT) to anyone holding it, until it expires, with no credentials.
//
//	go run ./examples/share -url 's3://?region=eu-west-1' -container docs -object report.pdf -expiry 24h
//
// The local and memory drivers cannot sign URLs: without -url it runs on
// the local driver and shows the ErrNotSupported every caller can test for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	fl := flag.NewFlagSet("share", flag.ContinueOnError)
	rawURL := fl.String("url", "", "storage URL (default: the local driver in a temporary folder)")
	container := fl.String("container", "shared", "container of the object")
	object := fl.String("object", "hello.txt", "object to share")
	method := fl.String("method", "GET", "GET to let others read, PUT to let them write")
	expiry := fl.Duration("expiry", time.Hour, "how long the URL works (at most 168h)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *rawURL == "" {
		dir, err := os.MkdirTemp("", "stowage-share-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*rawURL = "file://" + filepath.ToSlash(dir)
	}
	d, err := storage.OpenURL(ctx, *rawURL)
	if err != nil {
		return err
	}
	defer d.Close()
	c, err := d.GetContainer(ctx, *container)
	if errors.Is(err, storage.ErrContainerNotFound) {
		c, err = d.CreateContainer(ctx, *container)
	}
	if err != nil {
		return err
	}
	o, err := c.GetObject(ctx, *object)
	if errors.Is(err, storage.ErrObjectNotFound) && *method == "GET" {
		o, err = c.UploadObjectViaStream(ctx, strings.NewReader("hello from stowage\n"), *object, nil)
	}
	if errors.Is(err, storage.ErrObjectNotFound) {
		o, err = storage.NewObject(c, *object), nil
	}
	if err != nil {
		return err
	}
	caps := storage.CapabilitiesOf(d)
	fmt.Fprintf(out, "capabilities of %s: copy %v, signed URLs %v, conditional writes %v\n",
		*rawURL, caps.Copy, caps.SignedURL, caps.ConditionalWrite)
	u, err := storage.Sign(ctx, o, *method, *expiry)
	if errors.Is(err, storage.ErrNotSupported) {
		fmt.Fprintf(out, "this driver cannot sign URLs (%v); use -url with s3, gs or azblob\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", u.Method, u.URL)
	keys := make([]string, 0, len(u.Header))
	for k := range u.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "  with header %s: %s\n", k, strings.Join(u.Header[k], ", "))
	}
	fmt.Fprintf(out, "valid until %s\n", u.Expires.Format(time.RFC3339))
	return nil
}
