// Package storage is one API for object storage on many providers: Amazon S3
// and S3-compatible stores, Google Cloud Storage, Azure Blob Storage, a local
// directory and memory. It is the Apache Libcloud storage base API made
// idiomatic Go.
//
// A program opens a [Driver] by name or URL, with the driver package
// blank-imported, then works with containers and objects:
//
//	import (
//		"github.com/stowage/storage"
//		_ "github.com/stowage/storage/drivers/local"
//	)
//
//	func run(ctx context.Context) error {
//		d, err := storage.OpenURL(ctx, "file:///var/lib/backups")
//		if err != nil {
//			return err
//		}
//		defer d.Close()
//		c, err := d.CreateContainer(ctx, "nightly")
//		if err != nil {
//			return err
//		}
//		if _, err := c.UploadObject(ctx, "db.dump", "2026/db.dump", nil); err != nil {
//			return err
//		}
//		for o, err := range c.ListObjects(ctx, &storage.ListOptions{Prefix: "2026/"}).All() {
//			if err != nil {
//				return err
//			}
//			fmt.Println(o.Name, o.Size, o.Hash)
//		}
//		return nil
//	}
//
// Changing provider means changing the URL: "s3://?region=eu-west-1",
// "gs://?project=p", "azblob://?account=a", "mem://".
//
// # Errors
//
// Every driver reports failures with errors that [errors.Is] matches against
// the sentinels of this package ([ErrObjectNotFound], [ErrContainerExists],
// ...) and that [errors.As] can still unwrap to the provider's own error.
//
// # Defaults
//
// A nil options pointer means defaults, and the defaults are the safe ones:
// hashes are verified unless the caller opts out, a download never replaces
// an existing file unless asked, and a failed download or upload leaves
// nothing behind.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Driver is the base API. Every provider implements all of it, and every
// method is safe for concurrent use.
type Driver interface {
	// ListContainers lists the account's containers, a page at a time.
	ListContainers(ctx context.Context) *LazyList[*Container]
	// ListContainerObjects lists the objects of c in byte order of their
	// names, a page at a time. A nil opts lists everything.
	ListContainerObjects(ctx context.Context, c *Container, opts *ListOptions) *LazyList[*Object]
	// GetContainer returns the named container, or ErrContainerNotFound.
	GetContainer(ctx context.Context, name string) (*Container, error)
	// GetObject returns the named object's attributes, or ErrObjectNotFound
	// (ErrContainerNotFound when the container is missing).
	GetObject(ctx context.Context, container, name string) (*Object, error)
	// CreateContainer creates a container, or returns ErrContainerExists.
	CreateContainer(ctx context.Context, name string) (*Container, error)
	// UploadObject stores the file at filePath as the object name in c,
	// replacing any object of that name. The object appears whole or not
	// at all.
	UploadObject(ctx context.Context, filePath string, c *Container, name string, opts *UploadOptions) (*Object, error)
	// UploadObjectViaStream stores everything r yields, of a size not known
	// in advance, as the object name in c. Memory use is bounded by the
	// driver's part size, never by the object's size. The object appears
	// whole or not at all.
	UploadObjectViaStream(ctx context.Context, r io.Reader, c *Container, name string, opts *UploadOptions) (*Object, error)
	// DownloadObject writes o to the file destPath (or into the folder
	// destPath when it ends in a separator). The file appears whole and
	// verified, or not at all.
	DownloadObject(ctx context.Context, o *Object, destPath string, opts *DownloadOptions) error
	// DownloadObjectAsStream returns a reader of o's content, or of a byte
	// range of it. The caller closes it.
	DownloadObjectAsStream(ctx context.Context, o *Object, opts *StreamOptions) (io.ReadCloser, error)
	// DeleteContainer deletes an empty container; a container that still
	// holds objects gives ErrContainerNotEmpty.
	DeleteContainer(ctx context.Context, c *Container) error
	// DeleteObject deletes o, or returns ErrObjectNotFound.
	DeleteObject(ctx context.Context, o *Object) error
	// Close releases the driver's resources.
	Close() error
}

// ListOptions narrows and pages a listing of objects. The zero value lists
// every object.
type ListOptions struct {
	// Prefix keeps only the names that start with it.
	Prefix string
	// Delimiter, when set, rolls the names that contain it after Prefix up
	// into one entry per common prefix (up to and including the delimiter),
	// returned as an Object whose IsPrefix is true. "/" gives folder-style
	// listings.
	Delimiter string
	// PageSize is a hint for how many entries a page fetches; 0 means the
	// driver's default. Drivers may return fewer.
	PageSize int
	// StartToken resumes a listing from a token that LazyList.Token gave.
	StartToken string
}

// UploadOptions adjust an upload. A nil *UploadOptions means defaults.
type UploadOptions struct {
	// ContentType is the object's MIME type; when empty it is guessed from
	// the name's extension.
	ContentType string
	// Metadata is user metadata stored with the object. Keys are
	// case-insensitive and come back in lower case on every driver.
	Metadata map[string]string
	// ACL is a provider's canned access control name ("private",
	// "public-read", ...). Drivers without ACLs ignore it.
	ACL string
	// MD5 is the content's lowercase hex MD5 when the caller knows it. The
	// upload fails with ErrHashMismatch, storing nothing, if the content
	// differs.
	MD5 string
	// SkipHashCheck turns off the integrity check of the stored object.
	SkipHashCheck bool
	// IfNotExists makes the upload fail with ErrPreconditionFailed,
	// storing nothing, if an object of that name exists.
	IfNotExists bool
	// IfMatch, when set, makes the upload fail with ErrPreconditionFailed
	// unless the object exists and its ETag is this one.
	IfMatch string
	// Progress, when set, is called from the uploading goroutines with the
	// bytes sent so far and the total (-1 when not known).
	Progress func(done, total int64)
}

// DownloadOptions adjust a download to a file. A nil *DownloadOptions means
// defaults.
type DownloadOptions struct {
	// Overwrite allows replacing an existing destination file. Without it
	// a download to an existing file fails with ErrFileExists.
	Overwrite bool
	// SkipHashCheck turns off the check of the content against the hash the
	// provider holds.
	SkipHashCheck bool
	// Progress, when set, is called with the bytes received so far and the
	// total.
	Progress func(done, total int64)
}

// StreamOptions adjust a download as a stream. A nil *StreamOptions means
// the whole object, verified.
type StreamOptions struct {
	// Range, when set, reads only these bytes. A range is not hash-checked.
	Range *Range
	// ChunkSize is a hint for the size of reads from the provider; 0 means
	// the driver's default.
	ChunkSize int
	// SkipHashCheck turns off the check made at the end of a whole-object
	// stream, which otherwise makes the final Read fail with
	// ErrHashMismatch instead of io.EOF.
	SkipHashCheck bool
	// Progress, when set, is called with the bytes read so far and the
	// total.
	Progress func(done, total int64)
}

// Range is a span of bytes of an object.
type Range struct {
	// Offset is the first byte, from 0.
	Offset int64
	// Length is the number of bytes; 0 means up to the end of the object.
	Length int64
}

// Resolve checks r against an object of size bytes and returns the offset
// and the number of bytes to read. A range starting past the end gives
// ErrInvalidRange, as HTTP's 416 does; an empty object can be read from 0.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	if r.Offset < 0 || r.Length < 0 {
		return 0, 0, fmt.Errorf("%w: range offset %d, length %d", ErrInvalidArgument, r.Offset, r.Length)
	}
	if r.Offset >= size && !(size == 0 && r.Offset == 0) {
		return 0, 0, fmt.Errorf("%w: offset %d of an object of %d bytes", ErrInvalidRange, r.Offset, size)
	}
	length = size - r.Offset
	if r.Length > 0 && r.Length < length {
		length = r.Length
	}
	return r.Offset, length, nil
}

// The errors every driver reports, matched with errors.Is.
var (
	ErrContainerNotFound = errors.New("container not found")
	ErrObjectNotFound    = errors.New("object not found")
	ErrContainerExists   = errors.New("container already exists")
	ErrContainerNotEmpty = errors.New("container not empty")
	ErrInvalidName       = errors.New("invalid name")
	ErrHashMismatch      = errors.New("hash mismatch")
	ErrFileExists        = errors.New("destination file exists")
	ErrNotSupported      = errors.New("not supported")
	ErrInvalidArgument   = errors.New("invalid argument")
	ErrInvalidRange      = errors.New("range not satisfiable")
	// ErrPermission is a refusal of an authenticated caller.
	ErrPermission = errors.New("permission denied")
	// ErrUnauthenticated is a missing or rejected credential.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// Error is the error drivers return: what was attempted on which names, the
// kind of failure (one of the sentinels above, or nil) and the cause (often
// the provider's own error).
type Error struct {
	Driver    string
	Op        string
	Container string
	Object    string
	Kind      error
	Err       error
}

// NewError returns an *Error. Kind and cause may each be nil.
func NewError(driver, op, container, object string, kind, cause error) error {
	return &Error{Driver: driver, Op: op, Container: container, Object: object, Kind: kind, Err: cause}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Driver)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Container != "" || e.Object != "" {
		b.WriteString(" ")
		b.WriteString(strconvQuote(e.Container))
		if e.Object != "" {
			b.WriteString("/")
			b.WriteString(strconvQuote(e.Object))
		}
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// strconvQuote quotes a name, shortening very long ones so messages stay
// readable.
func strconvQuote(s string) string {
	const max = 200
	if len(s) > max {
		return fmt.Sprintf("%q...(%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// Unwrap gives errors.Is and errors.As both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Config holds a driver's settings by name, as given to Open or read from a
// URL's query by OpenURL. Each driver documents its keys.
type Config map[string]string

// Check returns an error naming any key of c that is not among known, so a
// misspelt setting is not silently ignored.
func (c Config) Check(known ...string) error {
	var unknown []string
	for k := range c {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("%w: unknown setting %s (known: %s)", ErrInvalidArgument,
		strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// Int64 stores the whole-number setting key in *dst; an absent setting
// leaves *dst as it is, a malformed one gives ErrInvalidArgument.
func (c Config) Int64(key string, dst *int64) error {
	v, ok := c[key]
	if !ok || v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: setting %s=%q is not a whole number", ErrInvalidArgument, key, v)
	}
	*dst = n
	return nil
}

// Int is Int64 for an int.
func (c Config) Int(key string, dst *int) error {
	n := int64(*dst)
	if err := c.Int64(key, &n); err != nil {
		return err
	}
	*dst = int(n)
	return nil
}

// Factory opens a driver from its settings.
type Factory func(ctx context.Context, cfg Config) (Driver, error)

var (
	registryMu sync.RWMutex
	factories  = map[string]Factory{}
	schemes    = map[string]string{} // URL scheme -> driver name
)

// Register makes a driver available by name to Open, and to OpenURL under
// each of the URL schemes given and under its name. Driver packages call it
// from init. It panics if the name or a scheme is registered twice or if
// factory is nil, as database/sql does.
func Register(name string, factory Factory, urlSchemes ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if factory == nil {
		panic("storage: Register factory is nil for " + name)
	}
	if _, dup := factories[name]; dup {
		panic("storage: Register called twice for driver " + name)
	}
	for _, s := range append([]string{name}, urlSchemes...) {
		if _, dup := schemes[s]; dup {
			panic("storage: Register called twice for URL scheme " + s)
		}
	}
	factories[name] = factory
	for _, s := range append([]string{name}, urlSchemes...) {
		schemes[s] = name
	}
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return slices.Sorted(maps.Keys(factories))
}

// Open opens the driver registered as name with the given settings.
func Open(ctx context.Context, name string, cfg Config) (Driver, error) {
	registryMu.RLock()
	f, ok := factories[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("storage: unknown driver %q (forgotten import?); registered: %s",
			name, strings.Join(Drivers(), ", "))
	}
	if cfg == nil {
		cfg = Config{}
	}
	return f(ctx, cfg)
}

// OpenURL opens a driver from a URL such as "file:///srv/data", "mem://" or
// "s3://?region=eu-west-1". The scheme picks the driver; each query
// parameter becomes a Config setting, and the URL's host and path, when
// present, become the settings "host" and "path".
func OpenURL(ctx context.Context, rawURL string) (Driver, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the whole URL, which may hold a secret.
		return nil, fmt.Errorf("%w: storage: cannot parse the URL", ErrInvalidArgument)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%w: storage: URL has no scheme", ErrInvalidArgument)
	}
	registryMu.RLock()
	name, ok := schemes[u.Scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("storage: no driver for URL scheme %q (forgotten import?); registered: %s",
			u.Scheme, strings.Join(Drivers(), ", "))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: storage: credentials in the URL's user part are not accepted", ErrInvalidArgument)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: storage: cannot parse the URL's query", ErrInvalidArgument)
	}
	cfg := Config{}
	for k, v := range q {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: storage: URL setting %q given %d times", ErrInvalidArgument, k, len(v))
		}
		cfg[k] = v[0]
	}
	for k, v := range map[string]string{"host": u.Host, "path": u.Path} {
		if v == "" {
			continue
		}
		if _, dup := cfg[k]; dup {
			return nil, fmt.Errorf("%w: storage: URL gives %q twice", ErrInvalidArgument, k)
		}
		cfg[k] = v
	}
	return Open(ctx, name, cfg)
}

// ValidateContainer returns ErrInvalidArgument for a nil container or one
// not made by a driver. Drivers call it first.
func ValidateContainer(c *Container) error {
	if c == nil {
		return fmt.Errorf("%w: nil container", ErrInvalidArgument)
	}
	if c.driver == nil {
		return fmt.Errorf("%w: container %q has no driver (use storage.NewContainer)", ErrInvalidArgument, c.Name)
	}
	return nil
}

// ValidateObject returns ErrInvalidArgument for a nil object or one without
// a container. Drivers call it first.
func ValidateObject(o *Object) error {
	if o == nil {
		return fmt.Errorf("%w: nil object", ErrInvalidArgument)
	}
	if o.IsPrefix {
		return fmt.Errorf("%w: %q is a common prefix of a listing, not an object", ErrInvalidArgument, o.Name)
	}
	return ValidateContainer(o.Container)
}

// Validate checks the options an upload is given.
func (o *UploadOptions) Validate() error {
	if o == nil {
		return nil
	}
	if o.IfNotExists && o.IfMatch != "" {
		return fmt.Errorf("%w: UploadOptions.IfNotExists and IfMatch exclude each other", ErrInvalidArgument)
	}
	if o.MD5 == "" {
		return nil
	}
	if len(o.MD5) != 32 || strings.Trim(o.MD5, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: UploadOptions.MD5 must be 32 lowercase hex digits", ErrInvalidArgument)
	}
	return nil
}
