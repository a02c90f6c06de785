package local

import (
	"context"
	"io"
	"io/fs"
	"os"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// open opens an object's file for reading and returns it with the object's
// attributes and the sums to check it against.
func (d *Driver) open(op, container, name string) (*os.File, *storage.Object, transfer.Want, error) {
	p, err := objectPath(container, name)
	if err != nil {
		return nil, nil, transfer.Want{}, opError(op, container, name, err, nil)
	}
	f, err := d.root.Open(p)
	if err != nil {
		if cerr := d.containerExists(op, container); cerr != nil {
			return nil, nil, transfer.Want{}, cerr
		}
		return nil, nil, transfer.Want{}, mapErr(op, container, name, err, storage.ErrObjectNotFound)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist // a folder of objects is not an object
	}
	if err != nil {
		f.Close()
		return nil, nil, transfer.Want{}, mapErr(op, container, name, err, storage.ErrObjectNotFound)
	}
	raw, _ := fgetAttrs(f) // without attributes the object has defaults
	o, sums := objectFrom(d.container(container), name, fi, raw)
	return f, o, sums, nil
}

// GetObject returns the object's attributes.
func (d *Driver) GetObject(ctx context.Context, container, name string) (*storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("GetObject", container, name, nil, err)
	}
	f, o, _, err := d.open("GetObject", container, name)
	if err != nil {
		return nil, err
	}
	f.Close()
	return o, nil
}

// DownloadObject copies the object's file to destPath with the kernel's
// file-to-file copy, checking the stored MD5 from the same file in
// parallel, and renames it into place only once it is complete and
// verified.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	if err := storage.ValidateObject(o); err != nil {
		return opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.DownloadOptions{}
	}
	if err := ctx.Err(); err != nil {
		return opError(op, o.Container.Name, o.Name, nil, err)
	}
	dest, err := transfer.DestinationPath(destPath, o.Name)
	if err != nil {
		return opError(op, o.Container.Name, o.Name, nil, err)
	}
	src, cur, want, err := d.open(op, o.Container.Name, o.Name)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := transfer.CreateFile(dest, opts.Overwrite)
	if err != nil {
		return opError(op, o.Container.Name, o.Name, nil, err)
	}
	defer out.Close()
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, cur.Size) }
	}
	// CRC32C finds what MD5 would at a tenth of the cost.
	if want.CRC32C != "" {
		want.MD5 = ""
	}
	verify := !opts.SkipHashCheck && want != transfer.Want{}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sums := make(chan hashResult, 1)
	if verify {
		go func() { sums <- hashOf(hctx, io.NewSectionReader(src, 0, cur.Size), want.Sums()) }()
	}
	n, err := transfer.Copy(ctx, out, src, progress)
	if err == nil {
		err = out.Sync() // overlaps the hashing
	}
	if err != nil {
		cancel()
	}
	var sum hashResult
	if verify {
		sum = <-sums
	}
	if err != nil {
		return opError(op, o.Container.Name, o.Name, nil, err)
	}
	if n != cur.Size {
		return opError(op, o.Container.Name, o.Name, storage.ErrHashMismatch, io.ErrUnexpectedEOF)
	}
	if verify {
		if sum.err != nil {
			return opError(op, o.Container.Name, o.Name, nil, sum.err)
		}
		if err := sum.h.Check(want); err != nil {
			return opError(op, o.Container.Name, o.Name, nil, err)
		}
	}
	if err := out.Commit(); err != nil {
		return opError(op, o.Container.Name, o.Name, nil, err)
	}
	return nil
}

// DownloadObjectAsStream returns a reader of the object's file, or of a
// range of it. A whole-object read is checked against the stored MD5 at its
// end.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	const op = "DownloadObjectAsStream"
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.StreamOptions{}
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(op, o.Container.Name, o.Name, nil, err)
	}
	f, cur, want, err := d.open(op, o.Container.Name, o.Name)
	if err != nil {
		return nil, err
	}
	off, n := int64(0), cur.Size
	if opts.Range != nil {
		if off, n, err = opts.Range.Resolve(cur.Size); err != nil {
			f.Close()
			return nil, opError(op, o.Container.Name, o.Name, nil, err)
		}
	}
	var r io.Reader = io.NewSectionReader(f, off, n)
	if opts.Range == nil && !opts.SkipHashCheck {
		if want.CRC32C != "" {
			want.MD5 = "" // CRC32C finds what MD5 would at a tenth of the cost
		}
		r = transfer.NewVerifyingReader(r, cur.Size, want)
	}
	return transfer.NewReader(ctx, r, f, n, opts.Progress), nil
}
