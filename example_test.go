package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stowage/storage"
	_ "github.com/stowage/storage/drivers/local"
	"github.com/stowage/storage/drivers/memory"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	d, err := storage.Open(ctx, "local", storage.Config{"path": dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	c, _ := d.CreateContainer(ctx, "reports")
	fmt.Println(c.Name)
	// Output: reports
}

func ExampleOpenURL() {
	ctx := context.Background()
	d, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	_, err = d.GetContainer(ctx, "missing")
	fmt.Println(errors.Is(err, storage.ErrContainerNotFound))

	_, err = storage.OpenURL(ctx, "mem://?colour=blue")
	fmt.Println(err)
	// Output:
	// true
	// invalid argument: unknown setting colour (known: )
}

func ExampleDrivers() {
	// The drivers this program imports (and any registered by hand).
	names := storage.Drivers()
	fmt.Println(slices.Contains(names, "local"), slices.Contains(names, "memory"), slices.IsSorted(names))
	// Output: true true true
}

func ExampleRegister() {
	// A driver package registers itself in init, under a name and URL
	// schemes, as database/sql drivers do.
	storage.Register("example-mem", func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		if err := cfg.Check(); err != nil {
			return nil, err
		}
		return memory.New(), nil
	}, "example")
	d, err := storage.OpenURL(context.Background(), "example://")
	fmt.Println(d != nil, err)
	// Output: true <nil>
}

func ExampleConfig_Check() {
	cfg := storage.Config{"region": "eu-west-1", "regoin": "typo"}
	fmt.Println(cfg.Check("region", "endpoint"))
	// Output: invalid argument: unknown setting regoin (known: region, endpoint)
}

func ExampleContainer_UploadObjectViaStream() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "logs")
	// Any io.Reader, of a size not known in advance.
	r := io.MultiReader(strings.NewReader("line 1\n"), strings.NewReader("line 2\n"))
	o, err := c.UploadObjectViaStream(ctx, r, "app.log", &storage.UploadOptions{
		Metadata: map[string]string{"Host": "web-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Name, o.Size, o.Hash, o.Metadata)
	// Output: app.log 14 c7253b64411b3aa485924efce6494bb5 map[host:web-1]
}

func ExampleContainer_ListObjects() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "photos")
	for _, n := range []string{"2025/a.jpg", "2026/b.jpg", "2026/c.jpg", "index.html"} {
		_, _ = c.UploadObjectViaStream(ctx, strings.NewReader(n), n, nil)
	}
	// Folder-style: common prefixes come back as objects marked IsPrefix.
	for o, err := range c.ListObjects(ctx, &storage.ListOptions{Delimiter: "/"}).All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(o.Name, o.IsPrefix)
	}
	// Output:
	// 2025/ true
	// 2026/ true
	// index.html false
}

func ExampleLazyList_Token() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "queue")
	for i := range 5 {
		name := fmt.Sprintf("job-%d", i)
		_, _ = c.UploadObjectViaStream(ctx, strings.NewReader(name), name, nil)
	}
	// Work a page, save the token, resume later from it.
	l := c.ListObjects(ctx, &storage.ListOptions{PageSize: 2})
	for _, o := range l.NextPage() {
		fmt.Println("done", o.Name)
	}
	saved := l.Token()
	rest, _ := c.ListObjects(ctx, &storage.ListOptions{PageSize: 2, StartToken: saved}).Collect()
	fmt.Println("left", len(rest))
	// Output:
	// done job-0
	// done job-1
	// left 3
}

func ExampleObject_Chunks() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "data")
	o, _ := c.UploadObjectViaStream(ctx, strings.NewReader("abcdefghij"), "letters", nil)
	for chunk, err := range o.Chunks(ctx, 4) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s ", chunk)
	}
	fmt.Println()
	// Output: abcd efgh ij
}

func ExampleObject_AsStream() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "data")
	o, _ := c.UploadObjectViaStream(ctx, strings.NewReader("0123456789"), "digits", nil)
	r, err := o.AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: 3, Length: 4}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	fmt.Println(string(b))
	// Output: 3456
}

func ExampleObject_Download() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "data")
	o, _ := c.UploadObjectViaStream(ctx, strings.NewReader("report"), "r.txt", nil)
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	dest := filepath.Join(dir, "r.txt")
	fmt.Println(o.Download(ctx, dest, nil))
	// A second download would replace the file: refused unless asked.
	err := o.Download(ctx, dest, nil)
	fmt.Println(errors.Is(err, storage.ErrFileExists))
	fmt.Println(o.Download(ctx, dest, &storage.DownloadOptions{Overwrite: true}))
	// Output:
	// <nil>
	// true
	// <nil>
}

func ExampleCopy() {
	ctx := context.Background()
	d := memory.New()
	c, _ := d.CreateContainer(ctx, "docs")
	o, _ := c.UploadObjectViaStream(ctx, strings.NewReader("v1"), "draft.txt", nil)
	cp, err := storage.Copy(ctx, o, c, "final.txt", nil)
	fmt.Println(cp.Name, err)
	// Output: final.txt <nil>
}

func ExampleSign() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "docs")
	o, _ := c.UploadObjectViaStream(ctx, strings.NewReader("x"), "x", nil)
	// Memory has no URLs to sign; the S3, GCS and Azure drivers do.
	_, err := storage.Sign(ctx, o, "GET", time.Hour)
	fmt.Println(errors.Is(err, storage.ErrNotSupported))
	// Output: true
}

func ExampleCapabilitiesOf() {
	fmt.Printf("%+v\n", storage.CapabilitiesOf(memory.New()))
	// Output: {Copy:true SignedURL:false ConditionalWrite:true}
}

func ExampleUploadOptions_ifNotExists() {
	ctx := context.Background()
	c, _ := memory.New().CreateContainer(ctx, "locks")
	create := &storage.UploadOptions{IfNotExists: true}
	_, err := c.UploadObjectViaStream(ctx, strings.NewReader("me"), "leader", create)
	fmt.Println(err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("you"), "leader", create)
	fmt.Println(errors.Is(err, storage.ErrPreconditionFailed))
	// Output:
	// <nil>
	// true
}

func ExampleRange_Resolve() {
	off, n, err := storage.Range{Offset: 90, Length: 50}.Resolve(100)
	fmt.Println(off, n, err)
	_, _, err = storage.Range{Offset: 100}.Resolve(100)
	fmt.Println(errors.Is(err, storage.ErrInvalidRange))
	// Output:
	// 90 10 <nil>
	// true
}

func ExampleNewError() {
	err := storage.NewError("mydriver", "GetObject", "bucket", "key", storage.ErrObjectNotFound, errors.New("HTTP 404"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, storage.ErrObjectNotFound))
	// Output:
	// mydriver: GetObject "bucket"/"key": object not found: HTTP 404
	// true
}
