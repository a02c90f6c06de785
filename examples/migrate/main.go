// Command migrate copies every object of a container from one provider to
// another: with bounded concurrency, a progress line, each object's hash
// checked by the destination, and a run that can be stopped and started
// again without copying anything twice.
//
//	go run ./examples/migrate -from 's3://?region=eu-west-1' -to 'gs://?project=p' -container photos
//
// Without -from and -to it makes a small local store and migrates it to
// another local folder, to show the steps.
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
	"sync"
	"sync/atomic"
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

type config struct {
	from, to, container, prefix, state string
	workers                            int
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var cfg config
	fl.StringVar(&cfg.from, "from", "", "source storage URL (default: a demo local store)")
	fl.StringVar(&cfg.to, "to", "", "destination storage URL (default: another local folder)")
	fl.StringVar(&cfg.container, "container", "photos", "container to copy (made at the destination if missing)")
	fl.StringVar(&cfg.prefix, "prefix", "", "copy only names with this prefix")
	fl.IntVar(&cfg.workers, "workers", 4, "objects copied at once")
	fl.StringVar(&cfg.state, "state", "", "file keeping the listing position, to resume a stopped run")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if cfg.from == "" {
		from, err := demoStore(ctx, cfg.container)
		if err != nil {
			return err
		}
		cfg.from = from
	}
	if cfg.to == "" {
		dir, err := os.MkdirTemp("", "stowage-migrate-to-")
		if err != nil {
			return err
		}
		cfg.to = "file://" + filepath.ToSlash(dir)
	}
	return migrate(ctx, cfg, out)
}

// counts is the progress of a run.
type counts struct {
	copied, skipped, failed, bytes atomic.Int64
}

func migrate(ctx context.Context, cfg config, out io.Writer) error {
	src, err := storage.OpenURL(ctx, cfg.from)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := storage.OpenURL(ctx, cfg.to)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer dst.Close()
	sc, err := src.GetContainer(ctx, cfg.container)
	if err != nil {
		return err
	}
	dc, err := dst.GetContainer(ctx, cfg.container)
	if err != nil {
		if dc, err = dst.CreateContainer(ctx, cfg.container); err != nil {
			return err
		}
	}
	token := ""
	if cfg.state != "" {
		if b, err := os.ReadFile(cfg.state); err == nil {
			token = strings.TrimSpace(string(b))
			fmt.Fprintf(out, "resuming from the saved listing position\n")
		}
	}
	var n counts
	start := time.Now()
	list := sc.ListObjects(ctx, &storage.ListOptions{Prefix: cfg.prefix, StartToken: token, PageSize: 100})
	// A page at a time: once every object of a page is copied, its end is
	// saved, so a stopped run starts again after it.
	for page := list.NextPage(); page != nil; page = list.NextPage() {
		copyPage(ctx, page, dc, cfg.workers, &n, out)
		if cfg.state != "" && n.failed.Load() == 0 {
			if err := os.WriteFile(cfg.state, []byte(list.Token()), 0o600); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "\r%d copied, %d already there, %d failed, %.1f MiB", n.copied.Load(), n.skipped.Load(), n.failed.Load(), float64(n.bytes.Load())/(1<<20))
	}
	fmt.Fprintln(out)
	if err := list.Err(); err != nil {
		return err
	}
	if f := n.failed.Load(); f > 0 {
		return fmt.Errorf("%d objects failed; run again to retry them", f)
	}
	if cfg.state != "" {
		os.Remove(cfg.state)
	}
	fmt.Fprintf(out, "migrated %s/%s from %s to %s in %s\n", cfg.container, cfg.prefix, cfg.from, cfg.to, time.Since(start).Round(time.Millisecond))
	return nil
}

// copyPage copies a page's objects with at most workers at once.
func copyPage(ctx context.Context, page []*storage.Object, dc *storage.Container, workers int, n *counts, out io.Writer) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(workers, 1))
	for _, o := range page {
		if o.IsPrefix {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			copied, err := copyObject(ctx, o, dc)
			switch {
			case err != nil:
				n.failed.Add(1)
				fmt.Fprintf(out, "\n%s: %v\n", o.Name, err)
			case copied:
				n.copied.Add(1)
				n.bytes.Add(o.Size)
			default:
				n.skipped.Add(1)
			}
		}()
	}
	wg.Wait()
}

// copyObject streams one object to the destination unless an identical
// one is there. The destination checks the source's MD5 when it is known.
func copyObject(ctx context.Context, o *storage.Object, dc *storage.Container) (bool, error) {
	if cur, err := dc.GetObject(ctx, o.Name); err == nil && cur.Size == o.Size &&
		(o.Hash == "" || cur.Hash == "" || cur.Hash == o.Hash) {
		return false, nil
	}
	full, err := o.Container.GetObject(ctx, o.Name) // listings may lack metadata
	if err != nil {
		return false, err
	}
	r, err := full.AsStream(ctx, nil)
	if err != nil {
		return false, err
	}
	defer r.Close()
	_, err = dc.UploadObjectViaStream(ctx, r, full.Name, &storage.UploadOptions{
		ContentType: full.ContentType, Metadata: full.Metadata, MD5: full.Hash,
	})
	return err == nil, err
}

// demoStore makes a local store with a few objects to migrate.
func demoStore(ctx context.Context, container string) (string, error) {
	dir, err := os.MkdirTemp("", "stowage-migrate-from-")
	if err != nil {
		return "", err
	}
	url := "file://" + filepath.ToSlash(dir)
	d, err := storage.OpenURL(ctx, url)
	if err != nil {
		return "", err
	}
	defer d.Close()
	c, err := d.CreateContainer(ctx, container)
	if err != nil {
		return "", err
	}
	for i := range 250 {
		name := fmt.Sprintf("2026/%02d/img-%04d.jpg", i%12+1, i)
		body := strings.NewReader(strings.Repeat(fmt.Sprint(i), 1000+i))
		if _, err := c.UploadObjectViaStream(ctx, body, name, &storage.UploadOptions{Metadata: map[string]string{"camera": "demo"}}); err != nil {
			return "", err
		}
	}
	return url, nil
}
