// Package memory is a Stowage driver that keeps containers and objects in
// the process's memory: for tests, caches and examples. It implements the
// whole base API, is safe for concurrent use, and forgets everything when
// the process ends.
//
// # URLs
//
// "mem://" opens a new, empty store; so does storage.Open(ctx, "memory",
// nil). Each Open is a separate store.
//
// # Names
//
// Container names are 1 to 255 bytes of UTF-8 without "/", "\", NUL or a
// leading "."; object names are 1 to 1,024 bytes of UTF-8 without NUL.
// Other names give storage.ErrInvalidName.
//
// # Hashes
//
// Every object's MD5 is computed as it is stored; its ETag is that MD5 and
// the time it was stored, so that each write makes a new version for
// conditional writes. Downloads are not re-hashed: the bytes never leave
// memory between the upload's hash and the download.
//
// # Capabilities
//
// Server-side copy (storage.Copy) and conditional writes
// (UploadOptions.IfNotExists and IfMatch); no signed URLs.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Name is the driver's registered name.
const Name = "memory"

func init() {
	storage.Register(Name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		if err := cfg.Check(); err != nil {
			return nil, err
		}
		return New(), nil
	}, "mem")
}

// chunkSize is the unit a streamed upload is stored in, so an object of
// unknown size is never re-allocated as it grows.
const chunkSize = 1 << 20

// defaultPageSize is the listing page size when the caller gives none.
const defaultPageSize = 1000

// Driver is the memory driver.
type Driver struct {
	mu         sync.RWMutex
	containers map[string]*bucket
}

type bucket struct {
	created time.Time
	objects map[string]*entry
	names   []string // sorted keys of objects
}

// entry is an object's stored state. It is never changed after it is
// stored, so readers use it without the lock.
type entry struct {
	chunks      [][]byte
	size        int64
	md5         string
	contentType string
	metadata    map[string]string
	modTime     time.Time
}

// New returns an empty memory store.
func New() *Driver {
	return &Driver{containers: map[string]*bucket{}}
}

var _ storage.Driver = (*Driver)(nil)

func opError(op, container, object string, kind, cause error) error {
	return storage.NewError(Name, op, container, object, kind, cause)
}

func validContainerName(name string) error {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) || name[0] == '.' ||
		strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("%w: container name must be 1-255 bytes of UTF-8 without '/', '\\', NUL or a leading '.'", storage.ErrInvalidName)
	}
	return nil
}

func validObjectName(name string) error {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: object name must be 1-1024 bytes of UTF-8 without NUL", storage.ErrInvalidName)
	}
	return nil
}

// ListContainers lists the containers in name order.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewLazyList(ctx, "", func(ctx context.Context, token string) ([]*storage.Container, string, error) {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		d.mu.RLock()
		names := make([]string, 0, len(d.containers))
		for n := range d.containers {
			if n > token {
				names = append(names, n)
			}
		}
		d.mu.RUnlock()
		slices.Sort(names)
		next := ""
		if len(names) > defaultPageSize {
			names = names[:defaultPageSize]
			next = names[len(names)-1]
		}
		out := make([]*storage.Container, len(names))
		for i, n := range names {
			out[i] = d.container(n)
		}
		return out, next, nil
	})
}

func (d *Driver) container(name string) *storage.Container {
	c := storage.NewContainer(d, name)
	d.mu.RLock()
	if b := d.containers[name]; b != nil {
		c.Extra = map[string]any{"created": b.created}
	}
	d.mu.RUnlock()
	return c
}

// ListContainerObjects lists c's objects in byte order of their names.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	if err := storage.ValidateContainer(c); err != nil {
		return storage.NewErrorList[*storage.Object](err)
	}
	if opts == nil {
		opts = &storage.ListOptions{}
	}
	o := *opts
	pageSize := o.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	return storage.NewLazyList(ctx, o.StartToken, func(ctx context.Context, token string) ([]*storage.Object, string, error) {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		d.mu.RLock()
		defer d.mu.RUnlock()
		b := d.containers[c.Name]
		if b == nil {
			return nil, "", opError("ListContainerObjects", c.Name, "", storage.ErrContainerNotFound, nil)
		}
		var out []*storage.Object
		start := max(token, o.Prefix)
		i, found := slices.BinarySearch(b.names, start)
		if found && start == token {
			i++
		}
		// A token that is a common prefix resumes after every name under it.
		if cp, ok := commonPrefix(token, o.Prefix, o.Delimiter); ok && cp == token {
			i += countPrefixed(b.names[i:], cp)
		}
		for i < len(b.names) {
			name := b.names[i]
			if !strings.HasPrefix(name, o.Prefix) {
				break
			}
			if len(out) == pageSize {
				return out, out[len(out)-1].Name, nil
			}
			if cp, ok := commonPrefix(name, o.Prefix, o.Delimiter); ok {
				p := storage.NewObject(c, cp)
				p.IsPrefix = true
				out = append(out, p)
				i += countPrefixed(b.names[i:], cp)
				continue
			}
			out = append(out, b.objects[name].object(c, name))
			i++
		}
		return out, "", nil
	})
}

// countPrefixed returns how many names at the start of sorted have prefix p.
func countPrefixed(sorted []string, p string) int {
	n, _ := slices.BinarySearchFunc(sorted, p, func(name, p string) int {
		if strings.HasPrefix(name, p) {
			return -1
		}
		return strings.Compare(name, p)
	})
	return n
}

// commonPrefix returns the roll-up entry of name in a delimited listing,
// if it has one.
func commonPrefix(name, prefix, delim string) (string, bool) {
	if delim == "" || !strings.HasPrefix(name, prefix) {
		return "", false
	}
	i := strings.Index(name[len(prefix):], delim)
	if i < 0 {
		return "", false
	}
	return name[:len(prefix)+i+len(delim)], true
}

func (e *entry) object(c *storage.Container, name string) *storage.Object {
	o := storage.NewObject(c, name)
	o.Size = e.size
	o.Hash = e.md5
	o.ETag = e.etag()
	o.ContentType = e.contentType
	o.ModTime = e.modTime
	if len(e.metadata) > 0 {
		o.Metadata = make(map[string]string, len(e.metadata))
		for k, v := range e.metadata {
			o.Metadata[k] = v
		}
	}
	return o
}

// GetContainer returns the named container.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validContainerName(name); err != nil {
		return nil, opError("GetContainer", name, "", err, nil)
	}
	d.mu.RLock()
	_, ok := d.containers[name]
	d.mu.RUnlock()
	if !ok {
		return nil, opError("GetContainer", name, "", storage.ErrContainerNotFound, nil)
	}
	return d.container(name), nil
}

// GetObject returns the named object's attributes.
func (d *Driver) GetObject(ctx context.Context, container, name string) (*storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := d.lookup("GetObject", container, name)
	if err != nil {
		return nil, err
	}
	return e.object(d.container(container), name), nil
}

func (d *Driver) lookup(op, container, name string) (*entry, error) {
	if err := validContainerName(container); err != nil {
		return nil, opError(op, container, name, err, nil)
	}
	if err := validObjectName(name); err != nil {
		return nil, opError(op, container, name, err, nil)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	b := d.containers[container]
	if b == nil {
		return nil, opError(op, container, name, storage.ErrContainerNotFound, nil)
	}
	e := b.objects[name]
	if e == nil {
		return nil, opError(op, container, name, storage.ErrObjectNotFound, nil)
	}
	return e, nil
}

// CreateContainer creates an empty container.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validContainerName(name); err != nil {
		return nil, opError("CreateContainer", name, "", err, nil)
	}
	d.mu.Lock()
	if _, ok := d.containers[name]; ok {
		d.mu.Unlock()
		return nil, opError("CreateContainer", name, "", storage.ErrContainerExists, nil)
	}
	d.containers[name] = &bucket{created: time.Now(), objects: map[string]*entry{}}
	d.mu.Unlock()
	return d.container(name), nil
}

// UploadObject stores the file at filePath.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	if err := d.checkUpload(c, name, opts); err != nil {
		return nil, opError("UploadObject", containerName(c), name, nil, err)
	}
	f, err := os.Open(filePath)
	if err != nil {
		return nil, opError("UploadObject", c.Name, name, nil, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, opError("UploadObject", c.Name, name, nil, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, opError("UploadObject", c.Name, name, storage.ErrInvalidArgument, fmt.Errorf("%q is not a regular file", filePath))
	}
	return d.put(ctx, "UploadObject", f, fi.Size(), c, name, opts)
}

// UploadObjectViaStream stores what r yields.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	if err := d.checkUpload(c, name, opts); err != nil {
		return nil, opError("UploadObjectViaStream", containerName(c), name, nil, err)
	}
	if r == nil {
		return nil, opError("UploadObjectViaStream", c.Name, name, storage.ErrInvalidArgument, errors.New("nil reader"))
	}
	return d.put(ctx, "UploadObjectViaStream", r, -1, c, name, opts)
}

func containerName(c *storage.Container) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (d *Driver) checkUpload(c *storage.Container, name string, opts *storage.UploadOptions) error {
	if err := storage.ValidateContainer(c); err != nil {
		return err
	}
	if err := validObjectName(name); err != nil {
		return err
	}
	return opts.Validate()
}

// put reads r (size bytes, or up to EOF when size < 0) and stores it
// under name once it is complete and verified.
func (d *Driver) put(ctx context.Context, op string, r io.Reader, size int64, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	meta, err := transfer.Metadata(opts.Metadata)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if !d.exists(c.Name) {
		return nil, opError(op, c.Name, name, storage.ErrContainerNotFound, nil)
	}
	hr := transfer.NewHashingReader(r, transfer.MD5)
	var chunks [][]byte
	// A stream of unknown size is read in chunks that double up to
	// chunkSize, so a small one costs no zeroed megabyte.
	next := 4 << 10
	for {
		if err := ctx.Err(); err != nil {
			return nil, opError(op, c.Name, name, nil, err)
		}
		n := next
		next = min(2*next, chunkSize)
		if size >= 0 {
			n = int(min(int64(chunkSize), size-hr.Len()))
			if n == 0 {
				break
			}
		}
		buf := make([]byte, n)
		got, err := io.ReadFull(hr, buf)
		if got > 0 {
			if got < n {
				buf = bytes.Clone(buf[:got]) // keep no slack
			}
			chunks = append(chunks, buf)
			if opts.Progress != nil {
				opts.Progress(hr.Len(), size)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if size >= 0 && hr.Len() < size {
				return nil, opError(op, c.Name, name, nil, fmt.Errorf("file shrank to %d of %d bytes while read", hr.Len(), size))
			}
			break
		}
		if err != nil {
			return nil, opError(op, c.Name, name, nil, err)
		}
	}
	sum := hr.MD5()
	if !opts.SkipHashCheck {
		if err := transfer.CheckMD5(sum, opts.MD5); err != nil {
			return nil, opError(op, c.Name, name, nil, err)
		}
	}
	e := &entry{
		chunks:      chunks,
		size:        hr.Len(),
		md5:         sum,
		contentType: transfer.ContentType(name, opts.ContentType),
		metadata:    meta,
		modTime:     time.Now(),
	}
	d.mu.Lock()
	b := d.containers[c.Name]
	if b == nil {
		d.mu.Unlock()
		return nil, opError(op, c.Name, name, storage.ErrContainerNotFound, nil)
	}
	if err := precondition(b.objects[name], opts); err != nil {
		d.mu.Unlock()
		return nil, opError(op, c.Name, name, storage.ErrPreconditionFailed, err)
	}
	if _, ok := b.objects[name]; !ok {
		i, _ := slices.BinarySearch(b.names, name)
		b.names = slices.Insert(b.names, i, name)
	}
	b.objects[name] = e
	d.mu.Unlock()
	return e.object(d.container(c.Name), name), nil
}

// precondition checks a conditional write against the current entry.
func precondition(cur *entry, opts *storage.UploadOptions) error {
	switch {
	case opts.IfNotExists && cur != nil:
		return errors.New("the object exists")
	case opts.IfMatch != "" && cur == nil:
		return errors.New("the object does not exist")
	case opts.IfMatch != "" && cur.etag() != opts.IfMatch:
		return fmt.Errorf("the object's ETag is %s, not %s", cur.etag(), opts.IfMatch)
	}
	return nil
}

// etag is the entry's version tag: its MD5 and the time it was stored,
// so that rewriting the same bytes still makes a new version.
func (e *entry) etag() string {
	return fmt.Sprintf(`"%s-%x"`, e.md5, e.modTime.UnixNano())
}

// Capabilities reports copy and conditional writes; memory has no URLs.
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Copy: true, ConditionalWrite: true}
}

// CopyObject copies an object of this store; the bytes are shared, since
// an entry never changes once stored.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	const op = "CopyObject"
	if err := storage.ValidateObject(src); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := storage.ValidateContainer(dst); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := validObjectName(name); err != nil {
		return nil, opError(op, dst.Name, name, err, nil)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(op, dst.Name, name, nil, err)
	}
	e, err := d.lookup(op, src.Container.Name, src.Name)
	if err != nil {
		return nil, err
	}
	cp := *e
	cp.modTime = time.Now()
	if opts != nil {
		if opts.ContentType != "" {
			cp.contentType = opts.ContentType
		}
		if opts.Metadata != nil {
			if cp.metadata, err = transfer.Metadata(opts.Metadata); err != nil {
				return nil, opError(op, dst.Name, name, nil, err)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.containers[dst.Name]
	if b == nil {
		return nil, opError(op, dst.Name, name, storage.ErrContainerNotFound, nil)
	}
	if _, ok := b.objects[name]; !ok {
		i, _ := slices.BinarySearch(b.names, name)
		b.names = slices.Insert(b.names, i, name)
	}
	b.objects[name] = &cp
	return cp.object(storage.NewContainer(d, dst.Name), name), nil
}

func (d *Driver) exists(container string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.containers[container] != nil
}

// DownloadObject writes o to destPath.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	if err := storage.ValidateObject(o); err != nil {
		return opError("DownloadObject", "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.DownloadOptions{}
	}
	e, err := d.lookup("DownloadObject", o.Container.Name, o.Name)
	if err != nil {
		return err
	}
	dest, err := transfer.DestinationPath(destPath, o.Name)
	if err != nil {
		return opError("DownloadObject", o.Container.Name, o.Name, nil, err)
	}
	f, err := transfer.CreateFile(dest, opts.Overwrite)
	if err != nil {
		return opError("DownloadObject", o.Container.Name, o.Name, nil, err)
	}
	defer f.Close()
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, e.size) }
	}
	if _, err := transfer.Copy(ctx, f, e.reader(0, e.size), progress); err != nil {
		return opError("DownloadObject", o.Container.Name, o.Name, nil, err)
	}
	if err := f.Commit(); err != nil {
		return opError("DownloadObject", o.Container.Name, o.Name, nil, err)
	}
	return nil
}

// DownloadObjectAsStream returns a reader of o's content or a range of it.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError("DownloadObjectAsStream", "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.StreamOptions{}
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("DownloadObjectAsStream", o.Container.Name, o.Name, nil, err)
	}
	e, err := d.lookup("DownloadObjectAsStream", o.Container.Name, o.Name)
	if err != nil {
		return nil, err
	}
	off, n := int64(0), e.size
	if opts.Range != nil {
		if off, n, err = opts.Range.Resolve(e.size); err != nil {
			return nil, opError("DownloadObjectAsStream", o.Container.Name, o.Name, nil, err)
		}
	}
	return transfer.NewReader(ctx, e.reader(off, n), nil, n, opts.Progress), nil
}

// reader returns a reader of n bytes of e from off.
func (e *entry) reader(off, n int64) io.Reader {
	readers := make([]io.Reader, 0, len(e.chunks))
	for _, c := range e.chunks {
		if n <= 0 {
			break
		}
		if off >= int64(len(c)) {
			off -= int64(len(c))
			continue
		}
		part := c[off:min(int64(len(c)), off+n)]
		readers = append(readers, bytes.NewReader(part))
		n -= int64(len(part))
		off = 0
	}
	return io.MultiReader(readers...)
}

// DeleteContainer deletes an empty container.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	if err := storage.ValidateContainer(c); err != nil {
		return opError("DeleteContainer", "", "", nil, err)
	}
	if err := ctx.Err(); err != nil {
		return opError("DeleteContainer", c.Name, "", nil, err)
	}
	if err := validContainerName(c.Name); err != nil {
		return opError("DeleteContainer", c.Name, "", err, nil)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.containers[c.Name]
	if b == nil {
		return opError("DeleteContainer", c.Name, "", storage.ErrContainerNotFound, nil)
	}
	if len(b.objects) > 0 {
		return opError("DeleteContainer", c.Name, "", storage.ErrContainerNotEmpty, nil)
	}
	delete(d.containers, c.Name)
	return nil
}

// DeleteObject deletes o.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	if err := storage.ValidateObject(o); err != nil {
		return opError("DeleteObject", "", "", nil, err)
	}
	if err := ctx.Err(); err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, nil, err)
	}
	if err := validObjectName(o.Name); err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, err, nil)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.containers[o.Container.Name]
	if b == nil {
		return opError("DeleteObject", o.Container.Name, o.Name, storage.ErrContainerNotFound, nil)
	}
	if _, ok := b.objects[o.Name]; !ok {
		return opError("DeleteObject", o.Container.Name, o.Name, storage.ErrObjectNotFound, nil)
	}
	delete(b.objects, o.Name)
	i, _ := slices.BinarySearch(b.names, o.Name)
	b.names = slices.Delete(b.names, i, i+1)
	return nil
}

// Close does nothing: the store lives as long as the Driver is reachable.
func (d *Driver) Close() error { return nil }
