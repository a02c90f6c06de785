package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// UploadObject copies the file at filePath into the container. The copy is
// made by the kernel (copy_file_range) while the MD5 is computed from the
// same file in parallel.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	const op = "UploadObject"
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	if err := checkUpload(c, opts); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	src, err := os.Open(filePath)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, opError(op, c.Name, name, storage.ErrInvalidArgument, fmt.Errorf("%q is not a regular file", filePath))
	}
	size := fi.Size()
	return d.write(ctx, op, c, name, opts, func(tmp *os.File) (*transfer.Hasher, error) {
		var progress func(int64)
		if opts.Progress != nil {
			progress = func(n int64) { opts.Progress(n, size) }
		}
		if opts.SkipHashCheck {
			_, err := copyExactly(ctx, tmp, src, size, progress)
			return nil, err
		}
		hctx, cancel := context.WithCancel(ctx)
		defer cancel()
		sums := make(chan hashResult, 1)
		go func() { sums <- hashOf(hctx, io.NewSectionReader(src, 0, size), transfer.MD5|transfer.CRC32C) }()
		_, err := copyExactly(ctx, tmp, src, size, progress)
		if err == nil {
			err = tmp.Sync() // overlaps the hashing, which takes longer
		}
		if err != nil {
			cancel()
		}
		sum := <-sums
		if err != nil {
			return nil, err
		}
		return sum.h, sum.err
	})
}

// copyExactly copies size bytes from src to dst, failing if src turns out
// to be of another size (a file changed while it was read).
func copyExactly(ctx context.Context, dst *os.File, src *os.File, size int64, progress func(int64)) (int64, error) {
	n, err := transfer.Copy(ctx, dst, src, progress)
	if err == nil && n != size {
		err = fmt.Errorf("source file changed size while read: %d bytes, expected %d", n, size)
	}
	return n, err
}

type hashResult struct {
	h   *transfer.Hasher
	err error
}

// hashOf computes the sums of r, stopping early when ctx ends.
func hashOf(ctx context.Context, r io.Reader, sums transfer.Sum) hashResult {
	h := transfer.NewHasher(sums)
	bp := transfer.GetBuffer()
	defer transfer.PutBuffer(bp)
	for {
		if err := ctx.Err(); err != nil {
			return hashResult{err: err}
		}
		n, err := r.Read(*bp)
		h.Write((*bp)[:n])
		if err == io.EOF {
			return hashResult{h: h}
		}
		if err != nil {
			return hashResult{err: err}
		}
	}
}

// UploadObjectViaStream writes what r yields into the container, through a
// temporary file, holding no more than one copy buffer in memory.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	const op = "UploadObjectViaStream"
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	if err := checkUpload(c, opts); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if r == nil {
		return nil, opError(op, c.Name, name, storage.ErrInvalidArgument, errors.New("nil reader"))
	}
	return d.write(ctx, op, c, name, opts, func(tmp *os.File) (*transfer.Hasher, error) {
		var progress func(int64)
		if opts.Progress != nil {
			progress = func(n int64) { opts.Progress(n, -1) }
		}
		if opts.SkipHashCheck {
			_, err := transfer.Copy(ctx, tmp, r, progress)
			return nil, err
		}
		_, h, err := transfer.CopyHashed(ctx, tmp, r, transfer.MD5|transfer.CRC32C, progress)
		return h, err
	})
}

func checkUpload(c *storage.Container, opts *storage.UploadOptions) error {
	if err := storage.ValidateContainer(c); err != nil {
		return err
	}
	return opts.Validate()
}

// write stores an object: fill writes the content into a temporary file
// and returns its sums (nil when not computed); the file is then checked,
// given its attributes, synced and renamed into place.
func (d *Driver) write(ctx context.Context, op string, c *storage.Container, name string, opts *storage.UploadOptions, fill func(*os.File) (*transfer.Hasher, error)) (*storage.Object, error) {
	p, err := objectPath(c.Name, name)
	if err != nil {
		return nil, opError(op, c.Name, name, err, nil)
	}
	meta, err := transfer.Metadata(opts.Metadata)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if err := d.containerExists(op, c.Name); err != nil {
		return nil, err
	}
	tmp, tmpName, err := d.createTemp()
	if err != nil {
		return nil, mapErr(op, c.Name, name, err, nil)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			d.root.Remove(tmpName)
		}
	}()
	sums, err := fill(tmp)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	var a attrs
	if sums != nil {
		if err := sums.Check(transfer.Want{MD5: opts.MD5}); err != nil {
			return nil, opError(op, c.Name, name, nil, err)
		}
		a.MD5, a.CRC32C = sums.MD5(), sums.CRC32C()
	}
	if err := tmp.Sync(); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	a.ContentType, a.Metadata = transfer.ContentType(name, opts.ContentType), meta
	a.Size, a.MTime = fi.Size(), fi.ModTime().UnixNano()
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	switch err := fsetAttrs(tmp, raw); {
	case errors.Is(err, errNoAttrs):
		if len(meta) > 0 {
			return nil, opError(op, c.Name, name, storage.ErrNotSupported, fmt.Errorf("metadata: %w", err))
		}
	case errors.Is(err, syscall.E2BIG), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.ERANGE):
		return nil, opError(op, c.Name, name, storage.ErrInvalidArgument,
			fmt.Errorf("metadata of %d bytes is too large for this file system's extended attributes", len(raw)))
	case err != nil:
		return nil, opError(op, c.Name, name, nil, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if err := d.rename(c.Name, tmpName, p, opts); err != nil {
		return nil, err
	}
	committed = true
	dir := path.Dir(p)
	if err := transfer.SyncDir(d.dir + "/" + dir); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	o, _ := objectFrom(d.container(c.Name), name, fi, raw)
	return o, nil
}

// createTemp makes a new temporary file under the root's tmpDir, locked so
// that removeAbandoned leaves it alone while it is in use.
func (d *Driver) createTemp() (*os.File, string, error) {
	for range 100 {
		name := tmpDir + "/" + transfer.TempName("w")
		f, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		tryLock(f)
		return f, name, nil
	}
	return nil, "", errors.New("no free temporary file name")
}

// rename moves the temporary file to the object's path, making its folders,
// under the conditions of opts. A concurrent delete may remove an empty
// folder between the two steps, so it tries again a few times.
func (d *Driver) rename(container, tmpName, p string, opts *storage.UploadOptions) error {
	name := p[len(container)+1:]
	conflict := func(err error) error {
		return opError("rename", container, name, storage.ErrInvalidName,
			fmt.Errorf("the name clashes with an object or a folder of objects: %w", err))
	}
	var err error
	for range 5 {
		// The folders are made only when the rename finds one missing: most
		// writes go to folders that exist.
		err = d.place(tmpName, p, opts)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, storage.ErrPreconditionFailed):
			return opError("rename", container, name, nil, err)
		case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, fs.ErrExist),
			errors.Is(err, syscall.ENOTDIR):
			return conflict(err)
		case !errors.Is(err, fs.ErrNotExist):
			return mapErr("rename", container, name, err, nil)
		}
		if cerr := d.containerExists("rename", container); cerr != nil {
			return cerr
		}
		if dir := path.Dir(name); dir != "." {
			// Made in the container's own root so that a container deleted
			// meanwhile is not made again.
			cr, err := d.root.OpenRoot(container)
			if err != nil {
				return mapErr("rename", container, name, err, storage.ErrContainerNotFound)
			}
			err = cr.MkdirAll(dir, 0o777)
			cr.Close()
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
				return conflict(err)
			}
			if err != nil {
				return mapErr("rename", container, name, err, storage.ErrContainerNotFound)
			}
		}
	}
	return mapErr("rename", container, name, err, nil)
}

// place renames tmpName to p. With IfNotExists it links instead, which
// fails atomically if p exists; with IfMatch it compares p's ETag and
// renames under a lock, atomic among the writers of this process (another
// process writing the same root is not excluded).
func (d *Driver) place(tmpName, p string, opts *storage.UploadOptions) error {
	switch {
	case opts.IfNotExists:
		err := d.root.Link(tmpName, p)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: the object exists", storage.ErrPreconditionFailed)
		}
		if err != nil {
			return err
		}
		return d.root.Remove(tmpName)
	case opts.IfMatch != "":
		mu := d.lock(p)
		mu.Lock()
		defer mu.Unlock()
		fi, err := d.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: the object does not exist", storage.ErrPreconditionFailed)
		}
		if err != nil {
			return err
		}
		if etag := etagOf(fi); etag != opts.IfMatch || !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: the object's ETag is %s, not %s", storage.ErrPreconditionFailed, etag, opts.IfMatch)
		}
		return d.root.Rename(tmpName, p)
	}
	return d.root.Rename(tmpName, p)
}

// lock returns the mutex of one of 64 stripes that p hashes to.
func (d *Driver) lock(p string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(p))
	return &d.locks[h.Sum32()%uint32(len(d.locks))]
}

// Capabilities reports copy and conditional writes; files have no URLs.
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Copy: true, ConditionalWrite: true}
}

// CopyObject copies an object's file into another object, through a
// temporary file like any write, hashing it on the way.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	const op = "CopyObject"
	if err := storage.ValidateObject(src); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := storage.ValidateContainer(dst); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(op, dst.Name, name, nil, err)
	}
	f, cur, _, err := d.open(op, src.Container.Name, src.Name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	uopts := &storage.UploadOptions{ContentType: cur.ContentType, Metadata: cur.Metadata}
	if opts != nil {
		if opts.ContentType != "" {
			uopts.ContentType = opts.ContentType
		}
		if opts.Metadata != nil {
			uopts.Metadata = opts.Metadata
		}
	}
	return d.write(ctx, op, dst, name, uopts, func(tmp *os.File) (*transfer.Hasher, error) {
		_, h, err := transfer.CopyHashed(ctx, tmp, f, transfer.MD5|transfer.CRC32C, nil)
		return h, err
	})
}
