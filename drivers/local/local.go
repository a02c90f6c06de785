// Package local is a Stowage driver that keeps containers as folders under
// a root folder and objects as files in them.
//
// # URLs
//
// "file:///srv/data" opens the root /srv/data, created if missing; so does
// storage.Open(ctx, "local", storage.Config{"path": "/srv/data"}) or
// New(Options{Root: "/srv/data"}).
//
// # Names
//
// A container is a folder directly under the root: 1 to 255 bytes of UTF-8
// without "/", "\", NUL or a leading ".". An object name is 1 to 1,024
// bytes of UTF-8 without NUL; its "/" separate nested folders, so each
// segment must be 1 to 255 bytes and not "." or "..", and one name cannot
// be both an object and the folder of others ("a" and "a/b"). Every path is
// resolved inside the root (os.Root): no name, and no symbolic link met on
// the way, can reach outside it. Names breaking these rules give
// storage.ErrInvalidName and touch nothing.
//
// # Attributes
//
// The content type, the user metadata and the MD5 of an object are kept in
// one extended attribute of its file, "user.stowage", written to the
// temporary file before it is renamed into place, so an object and its
// attributes appear together. The attribute also records the size and
// modification time the MD5 belongs to: a file changed by another program
// reports an empty Hash rather than a wrong one. On a file system, or an
// operating system, without extended attributes, objects keep no metadata
// and no hash.
//
// # Durability
//
// Every write goes to a temporary file under the root's ".stowage-tmp"
// folder, is synced, and is renamed into place: readers see the old object
// or the new one, never a part. Temporary files left by a crashed process
// are removed the next time a driver opens the root.
//
// # Capabilities
//
// Copy (storage.Copy, a copy through a temporary file) and conditional
// writes: IfNotExists links the new file into place, which fails
// atomically if the name exists; IfMatch compares the ETag (modification
// time and size) and renames under a lock, atomic among this process's
// writers only. No signed URLs.
//
// # Hashes
//
// Uploads compute the MD5 of what they store while they copy it, unless
// UploadOptions.SkipHashCheck is set, in which case the object has no hash.
// Downloads check the stored MD5 while they copy, unless
// DownloadOptions.SkipHashCheck is set.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Name is the driver's registered name.
const Name = "local"

// tmpDir is the folder under the root for writes in progress. Container
// names cannot start with ".", so it is never listed as a container.
const tmpDir = ".stowage-tmp"

// defaultPageSize is the listing page size when the caller gives none.
const defaultPageSize = 1000

func init() {
	storage.Register(Name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		if err := cfg.Check("path"); err != nil {
			return nil, err
		}
		d, err := New(Options{Root: cfg["path"]})
		if err != nil {
			return nil, err
		}
		return d, nil
	}, "file")
}

// Options configure the local driver.
type Options struct {
	// Root is the folder that holds the containers. It is created if
	// missing.
	Root string
}

// Driver is the local driver.
type Driver struct {
	root  *os.Root
	dir   string // absolute path of the root
	locks [64]sync.Mutex
}

var _ storage.Driver = (*Driver)(nil)

// New opens the root folder, creating it if needed, and removes the
// temporary files that crashed writers left in it.
func New(opts Options) (*Driver, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("%w: local: Options.Root is empty", storage.ErrInvalidArgument)
	}
	dir, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o777); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	d := &Driver{root: root, dir: dir}
	d.removeAbandoned(10 * time.Second)
	return d, nil
}

// removeAbandoned removes temporary files that no writer holds locked and
// that have not changed for at least age.
func (d *Driver) removeAbandoned(age time.Duration) {
	entries, err := os.ReadDir(filepath.Join(d.dir, tmpDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !transfer.IsTemp(e.Name()) {
			continue
		}
		name := path.Join(tmpDir, e.Name())
		f, err := d.root.Open(name)
		if err != nil {
			continue
		}
		if fi, err := f.Stat(); err == nil && time.Since(fi.ModTime()) >= age && tryLock(f) {
			d.root.Remove(name)
		}
		f.Close()
	}
}

// Close releases the root folder.
func (d *Driver) Close() error { return d.root.Close() }

func opError(op, container, object string, kind, cause error) error {
	return storage.NewError(Name, op, container, object, kind, cause)
}

func checkContainerName(name string) error {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) || name[0] == '.' ||
		strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("%w: container name must be 1-255 bytes of UTF-8 without '/', '\\', NUL or a leading '.'", storage.ErrInvalidName)
	}
	return nil
}

func checkObjectName(name string) error {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: object name must be 1-1024 bytes of UTF-8 without NUL", storage.ErrInvalidName)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > 255 {
			return fmt.Errorf("%w: each '/'-separated segment of an object name must be 1-255 bytes and not '.' or '..'", storage.ErrInvalidName)
		}
		if filepath.Separator != '/' && strings.ContainsRune(seg, filepath.Separator) {
			return fmt.Errorf("%w: object name contains %q", storage.ErrInvalidName, filepath.Separator)
		}
	}
	return nil
}

// objectPath returns the path, relative to the root, of an object.
func objectPath(container, name string) (string, error) {
	if err := checkContainerName(container); err != nil {
		return "", err
	}
	if err := checkObjectName(name); err != nil {
		return "", err
	}
	return container + "/" + name, nil
}

// mapErr turns a file system error into the storage error for op. notFound
// is the kind a missing file means for this call.
func mapErr(op, container, object string, err error, notFound error) error {
	var kind error
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		kind = notFound
	case errors.Is(err, fs.ErrPermission):
		kind = storage.ErrPermission
	case errors.Is(err, syscall.ENAMETOOLONG), escapes(err):
		kind = storage.ErrInvalidName
	}
	return opError(op, container, object, kind, err)
}

// escapes reports whether err is os.Root's refusal of a path that leaves
// the root through "..", an absolute path or a symbolic link. os does not
// export that error, so its text is the only way to tell.
func escapes(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// attrs is what the extended attribute of an object holds.
type attrs struct {
	MD5         string            `json:"md5,omitempty"`
	CRC32C      string            `json:"crc32c,omitempty"`
	ContentType string            `json:"type,omitempty"`
	Metadata    map[string]string `json:"meta,omitempty"`
	// Size and MTime are the file's when the sums were computed.
	Size  int64 `json:"size"`
	MTime int64 `json:"mtime"`
}

// etagOf is a file's version tag: its modification time, size and inode.
// Every write makes a new file, so a new inode: two writes of the same
// size within one tick of the file system's clock still differ.
func etagOf(fi fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x-%x"`, fi.ModTime().UnixNano(), fi.Size(), fileID(fi))
}

// objectFrom builds an object from a file's info and its attribute value,
// and returns the sums that still describe the file.
func objectFrom(c *storage.Container, name string, fi fs.FileInfo, raw []byte) (*storage.Object, transfer.Want) {
	o := storage.NewObject(c, name)
	o.Size = fi.Size()
	o.ModTime = fi.ModTime()
	o.ETag = etagOf(fi)
	var a attrs
	var sums transfer.Want
	if len(raw) > 0 && json.Unmarshal(raw, &a) == nil {
		if a.Size == fi.Size() && a.MTime == fi.ModTime().UnixNano() {
			o.Hash = a.MD5
			sums = transfer.Want{MD5: a.MD5, CRC32C: a.CRC32C}
		}
		o.ContentType = a.ContentType
		o.Metadata = a.Metadata
	}
	o.ContentType = transfer.ContentType(name, o.ContentType)
	return o, sums
}

func (d *Driver) container(name string) *storage.Container {
	return storage.NewContainer(d, name)
}

// containerExists returns nil, ErrContainerNotFound, or another error.
func (d *Driver) containerExists(op, name string) error {
	fi, err := d.root.Stat(name)
	if err != nil {
		return mapErr(op, name, "", err, storage.ErrContainerNotFound)
	}
	if !fi.IsDir() {
		return opError(op, name, "", storage.ErrContainerNotFound, nil)
	}
	return nil
}

// ListContainers lists the folders under the root.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewLazyList(ctx, "", func(ctx context.Context, token string) ([]*storage.Container, string, error) {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		f, err := d.root.Open(".")
		if err != nil {
			return nil, "", mapErr("ListContainers", "", "", err, nil)
		}
		defer f.Close()
		entries, err := f.ReadDir(-1)
		if err != nil {
			return nil, "", mapErr("ListContainers", "", "", err, nil)
		}
		var out []*storage.Container
		for _, e := range entries {
			if e.IsDir() && checkContainerName(e.Name()) == nil && e.Name() > token {
				c := d.container(e.Name())
				if fi, err := e.Info(); err == nil {
					c.Extra = map[string]any{"modified": fi.ModTime()}
				}
				out = append(out, c)
			}
		}
		// ReadDir sorts by name; one page holds them all.
		return out, "", nil
	})
}

// GetContainer returns the named container.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("GetContainer", name, "", nil, err)
	}
	if err := checkContainerName(name); err != nil {
		return nil, opError("GetContainer", name, "", err, nil)
	}
	if err := d.containerExists("GetContainer", name); err != nil {
		return nil, err
	}
	return d.container(name), nil
}

// CreateContainer creates the container's folder.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("CreateContainer", name, "", nil, err)
	}
	if err := checkContainerName(name); err != nil {
		return nil, opError("CreateContainer", name, "", err, nil)
	}
	if err := d.root.Mkdir(name, 0o777); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, opError("CreateContainer", name, "", storage.ErrContainerExists, nil)
		}
		return nil, mapErr("CreateContainer", name, "", err, nil)
	}
	if err := transfer.SyncDir(d.dir); err != nil {
		return nil, mapErr("CreateContainer", name, "", err, nil)
	}
	return d.container(name), nil
}

// DeleteContainer removes the container's folder if it holds no object.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	if err := storage.ValidateContainer(c); err != nil {
		return opError("DeleteContainer", "", "", nil, err)
	}
	if err := ctx.Err(); err != nil {
		return opError("DeleteContainer", c.Name, "", nil, err)
	}
	if err := checkContainerName(c.Name); err != nil {
		return opError("DeleteContainer", c.Name, "", err, nil)
	}
	if err := d.containerExists("DeleteContainer", c.Name); err != nil {
		return err
	}
	if err := d.root.Remove(c.Name); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist) {
			return opError("DeleteContainer", c.Name, "", storage.ErrContainerNotEmpty, nil)
		}
		return mapErr("DeleteContainer", c.Name, "", err, storage.ErrContainerNotFound)
	}
	return transfer.SyncDir(d.dir)
}

// DeleteObject removes the object's file and the folders it leaves empty.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	if err := storage.ValidateObject(o); err != nil {
		return opError("DeleteObject", "", "", nil, err)
	}
	if err := ctx.Err(); err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, nil, err)
	}
	p, err := objectPath(o.Container.Name, o.Name)
	if err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, err, nil)
	}
	fi, err := d.root.Lstat(p)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist // a folder of objects is not an object
	}
	if err == nil {
		err = d.root.Remove(p)
	}
	if err != nil {
		if cerr := d.containerExists("DeleteObject", o.Container.Name); cerr != nil {
			return cerr
		}
		return mapErr("DeleteObject", o.Container.Name, o.Name, err, storage.ErrObjectNotFound)
	}
	d.removeEmptyParents(o.Container.Name, o.Name)
	// Best effort: a delete lost in a crash leaves the old object whole.
	_ = transfer.SyncDir(filepath.Join(d.dir, o.Container.Name))
	return nil
}

// removeEmptyParents removes the folders of name, deepest first, that are
// now empty, stopping at the container.
func (d *Driver) removeEmptyParents(container, name string) {
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if d.root.Remove(container+"/"+dir) != nil {
			return
		}
	}
}
