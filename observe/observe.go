// Package observe wraps any Stowage driver to log each call with log/slog
// and to hand each call to hooks that metrics or traces hang on, the way a
// decorator does: the driver itself is untouched.
//
//	d = observe.Wrap(d, observe.Options{Logger: slog.Default()})
//
// A record names the operation, the container and object, the bytes moved
// (when known), the duration and the outcome. It never holds credentials:
// the drivers' errors carry none, and options are not logged.
package observe

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/stowage/storage"
)

// Call describes one call to the driver.
type Call struct {
	Op        string
	Container string
	Object    string
	Start     time.Time
}

// Result is how a call ended.
type Result struct {
	Duration time.Duration
	// Bytes is the content moved, or -1 when the call moves none or the
	// size is not known when it returns (a stream being read).
	Bytes int64
	Err   error
}

// Options configure the wrapper.
type Options struct {
	// Logger receives a record per call; nil logs nothing.
	Logger *slog.Logger
	// Level is the level of successful calls; failures are logged at
	// Error. The zero value is Info.
	Level slog.Level
	// OnStart, when set, is called as a call begins and may return a
	// context for the call (a trace span's, say).
	OnStart func(ctx context.Context, c Call) context.Context
	// OnEnd, when set, is called as a call ends.
	OnEnd func(ctx context.Context, c Call, r Result)
}

// Driver is a driver wrapped by Wrap.
type Driver struct {
	inner storage.Driver
	opts  Options
}

// Wrap returns d with every call logged and hooked. Containers and objects
// it returns belong to the wrapper, so calls through them are observed
// too. It keeps d's capabilities.
func Wrap(d storage.Driver, opts Options) *Driver {
	if d == nil {
		d = missing{}
	}
	return &Driver{inner: d, opts: opts}
}

// Unwrap returns the wrapped driver.
func (d *Driver) Unwrap() storage.Driver { return d.inner }

var (
	_ storage.Driver             = (*Driver)(nil)
	_ storage.Copier             = (*Driver)(nil)
	_ storage.URLSigner          = (*Driver)(nil)
	_ storage.CapabilityReporter = (*Driver)(nil)
)

// begin starts observing a call; the returned end finishes it.
func (d *Driver) begin(ctx context.Context, op, container, object string) (context.Context, func(bytes int64, err error)) {
	c := Call{Op: op, Container: container, Object: object, Start: time.Now()}
	if d.opts.OnStart != nil {
		if nctx := d.opts.OnStart(ctx, c); nctx != nil {
			ctx = nctx
		}
	}
	return ctx, func(bytes int64, err error) {
		r := Result{Duration: time.Since(c.Start), Bytes: bytes, Err: err}
		if d.opts.OnEnd != nil {
			d.opts.OnEnd(ctx, c, r)
		}
		if d.opts.Logger == nil {
			return
		}
		attrs := []slog.Attr{slog.String("op", op), slog.Duration("duration", r.Duration)}
		if container != "" {
			attrs = append(attrs, slog.String("container", container))
		}
		if object != "" {
			attrs = append(attrs, slog.String("object", object))
		}
		if bytes >= 0 {
			attrs = append(attrs, slog.Int64("bytes", bytes))
		}
		level := d.opts.Level
		if err != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		d.opts.Logger.LogAttrs(ctx, level, "storage call", attrs...)
	}
}

// own re-homes a container the inner driver made onto the wrapper.
func (d *Driver) own(c *storage.Container) *storage.Container {
	if c == nil {
		return nil
	}
	n := storage.NewContainer(d, c.Name)
	n.Extra = c.Extra
	return n
}

func (d *Driver) ownObject(o *storage.Object) *storage.Object {
	if o == nil {
		return nil
	}
	n := *o
	n.Container = d.own(o.Container)
	return &n
}

// inner returns a container or object of the inner driver for one of the
// wrapper's, so the inner driver sees its own values.
func (d *Driver) innerContainer(c *storage.Container) *storage.Container {
	if c == nil || c.Driver() != storage.Driver(d) {
		return c
	}
	n := storage.NewContainer(d.inner, c.Name)
	n.Extra = c.Extra
	return n
}

func (d *Driver) innerObject(o *storage.Object) *storage.Object {
	if o == nil {
		return nil
	}
	n := *o
	n.Container = d.innerContainer(o.Container)
	return &n
}

func names(c *storage.Container) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func objectNames(o *storage.Object) (string, string) {
	if o == nil {
		return "", ""
	}
	return names(o.Container), o.Name
}

// ListContainers lists containers, observing each page.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	inner := d.inner.ListContainers(ctx)
	return storage.NewLazyList(ctx, "", pages(d, "ListContainers", "", inner, d.own))
}

// ListContainerObjects lists objects, observing each page.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	inner := d.inner.ListContainerObjects(ctx, d.innerContainer(c), opts)
	start := ""
	if opts != nil {
		start = opts.StartToken
	}
	return storage.NewLazyList(ctx, start, pages(d, "ListContainerObjects", names(c), inner, d.ownObject))
}

// pages turns the inner listing into a page function, a page of it per
// call, each observed as a call.
func pages[T any](d *Driver, op, container string, inner *storage.LazyList[T], own func(T) T) storage.PageFunc[T] {
	return func(ctx context.Context, _ string) ([]T, string, error) {
		_, end := d.begin(ctx, op, container, "")
		page := inner.NextPage()
		items := make([]T, len(page))
		for i, it := range page {
			items[i] = own(it)
		}
		err := inner.Err()
		end(-1, err)
		if err != nil {
			return items, "", err
		}
		return items, inner.Token(), nil
	}
}

// GetContainer gets a container.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	ctx, end := d.begin(ctx, "GetContainer", name, "")
	c, err := d.inner.GetContainer(ctx, name)
	end(-1, err)
	return d.own(c), err
}

// GetObject gets an object's attributes.
func (d *Driver) GetObject(ctx context.Context, container, name string) (*storage.Object, error) {
	ctx, end := d.begin(ctx, "GetObject", container, name)
	o, err := d.inner.GetObject(ctx, container, name)
	end(-1, err)
	return d.ownObject(o), err
}

// CreateContainer creates a container.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	ctx, end := d.begin(ctx, "CreateContainer", name, "")
	c, err := d.inner.CreateContainer(ctx, name)
	end(-1, err)
	return d.own(c), err
}

func size(o *storage.Object) int64 {
	if o == nil {
		return -1
	}
	return o.Size
}

// UploadObject uploads a file.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	ctx, end := d.begin(ctx, "UploadObject", names(c), name)
	o, err := d.inner.UploadObject(ctx, filePath, d.innerContainer(c), name, opts)
	end(size(o), err)
	return d.ownObject(o), err
}

// UploadObjectViaStream uploads a stream.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	ctx, end := d.begin(ctx, "UploadObjectViaStream", names(c), name)
	o, err := d.inner.UploadObjectViaStream(ctx, r, d.innerContainer(c), name, opts)
	end(size(o), err)
	return d.ownObject(o), err
}

// DownloadObject downloads to a file.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	cn, on := objectNames(o)
	ctx, end := d.begin(ctx, "DownloadObject", cn, on)
	err := d.inner.DownloadObject(ctx, d.innerObject(o), destPath, opts)
	n := int64(-1)
	if err == nil {
		n = size(o)
	}
	end(n, err)
	return err
}

// DownloadObjectAsStream opens a stream; its end is observed when the
// stream is closed, with the bytes read.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	cn, on := objectNames(o)
	ctx, end := d.begin(ctx, "DownloadObjectAsStream", cn, on)
	r, err := d.inner.DownloadObjectAsStream(ctx, d.innerObject(o), opts)
	if err != nil {
		end(-1, err)
		return nil, err
	}
	return &stream{r: r, end: end}, nil
}

// stream counts what is read and ends the call on Close.
type stream struct {
	r    io.ReadCloser
	n    int64
	err  error
	end  func(int64, error)
	done bool
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func (s *stream) Close() error {
	err := s.r.Close()
	if !s.done {
		s.done = true
		s.end(s.n, s.err)
	}
	return err
}

// DeleteContainer deletes a container.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	ctx, end := d.begin(ctx, "DeleteContainer", names(c), "")
	err := d.inner.DeleteContainer(ctx, d.innerContainer(c))
	end(-1, err)
	return err
}

// DeleteObject deletes an object.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	cn, on := objectNames(o)
	ctx, end := d.begin(ctx, "DeleteObject", cn, on)
	err := d.inner.DeleteObject(ctx, d.innerObject(o))
	end(-1, err)
	return err
}

// Close closes the inner driver.
func (d *Driver) Close() error { return d.inner.Close() }

// Capabilities are the inner driver's.
func (d *Driver) Capabilities() storage.Capabilities { return storage.CapabilitiesOf(d.inner) }

// CopyObject copies on the server when the inner driver can.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	ctx, end := d.begin(ctx, "CopyObject", names(dst), name)
	o, err := storage.Copy(ctx, d.innerObject(src), d.innerContainer(dst), name, opts)
	end(size(o), err)
	return d.ownObject(o), err
}

// Sign signs a URL when the inner driver can. The URL is not logged.
func (d *Driver) Sign(ctx context.Context, o *storage.Object, method string, expiry time.Duration) (*storage.SignedURL, error) {
	cn, on := objectNames(o)
	ctx, end := d.begin(ctx, "Sign", cn, on)
	u, err := storage.Sign(ctx, d.innerObject(o), method, expiry)
	end(-1, err)
	return u, err
}
