package gcs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	gcs "cloud.google.com/go/storage"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// chunkUnit is the multiple GCS wants chunk sizes in.
const chunkUnit = 256 << 10

// UploadObject uploads a file: in one request when it fits in a chunk,
// with its MD5 so GCS checks it, else through a resumable upload.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	const op = "UploadObject"
	if err := d.checkUpload(c, name, opts); err != nil {
		return nil, opError(op, containerName(c), name, nil, err)
	}
	f, err := os.Open(filePath)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, opError(op, c.Name, name, storage.ErrInvalidArgument, fmt.Errorf("%q is not a regular file", filePath))
	}
	size := fi.Size()
	var sum []byte
	if size <= int64(d.chunkSize) {
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
			return nil, opError(op, c.Name, name, nil, err)
		}
		sum = h.Sum(nil)
	}
	return d.write(ctx, op, c.Name, name, opts, io.NewSectionReader(f, 0, size), size, sum)
}

// UploadObjectViaStream uploads a stream of unknown size. The first MiB is
// read ahead: a stream that ends within it goes in one request with its
// MD5; a longer one through a resumable upload.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	const op = "UploadObjectViaStream"
	if err := d.checkUpload(c, name, opts); err != nil {
		return nil, opError(op, containerName(c), name, nil, err)
	}
	if r == nil {
		return nil, opError(op, c.Name, name, storage.ErrInvalidArgument, errors.New("nil reader"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	bp := transfer.GetBuffer()
	defer transfer.PutBuffer(bp)
	n, err := io.ReadFull(r, *bp)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		head := (*bp)[:n]
		sum := md5.Sum(head)
		return d.write(ctx, op, c.Name, name, opts, bytes.NewReader(head), int64(n), sum[:])
	case nil:
		return d.write(ctx, op, c.Name, name, opts, io.MultiReader(bytes.NewReader(*bp), r), -1, nil)
	default:
		return nil, opError(op, c.Name, name, nil, err)
	}
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
	if err := checkBucketName(c.Name); err != nil {
		return err
	}
	if err := checkObjectName(name); err != nil {
		return err
	}
	return opts.Validate()
}

// write uploads size bytes of r (size < 0: until EOF). sum is the content's
// MD5 when known in advance, sent so that GCS checks it. The SDK sends the
// whole content's CRC32C at the end; the CRC32C GCS stored is then
// compared with the one computed here. A failure before the end cancels
// the upload, which GCS then never finalizes.
func (d *Driver) write(ctx context.Context, op, bucket, name string, opts *storage.UploadOptions, r io.Reader, size int64, sum []byte) (*storage.Object, error) {
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	meta, err := transfer.Metadata(opts.Metadata)
	if err != nil {
		return nil, opError(op, bucket, name, nil, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obj, err := conditional(d.client.Bucket(bucket).Object(name), opts)
	if err != nil {
		return nil, opError(op, bucket, name, nil, err)
	}
	// A write of whole content is safe to send again, conditional or not:
	// retry it on a busy or failing server as the SDK does idempotent calls.
	w := obj.Retryer(gcs.WithPolicy(gcs.RetryAlways)).NewWriter(wctx)
	w.ContentType = transfer.ContentType(name, opts.ContentType)
	w.Metadata = meta
	w.PredefinedACL = opts.ACL
	w.ChunkSize = d.chunkSize
	if size >= 0 && size < int64(d.chunkSize) {
		// Just above the size: one request, and a buffer no larger than
		// needed (the default 16 MiB buffer dominates small uploads).
		w.ChunkSize = int(size/chunkUnit+1) * chunkUnit
	}
	if sum != nil {
		w.MD5 = sum
	}
	// GCS checks the CRC32C the SDK sends, and the CRC32C it stored is
	// compared after, which catches a server that stored other bytes than
	// it was sent. An MD5 (eight times the CPU, on a machine the upload
	// shares) is computed only to compare with the caller's.
	sums := transfer.CRC32C
	if sum == nil && opts.MD5 != "" && !opts.SkipHashCheck {
		sums |= transfer.MD5
	}
	hr := transfer.NewHashingReader(r, sums)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, size) }
	}
	fail := func(err error) (*storage.Object, error) {
		cancel()
		_ = w.Close()
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			err = fmt.Errorf("upload cancelled")
		}
		return nil, d.whichMissing(ctx, op, bucket, name, mapErr(op, bucket, name, err, storage.ErrContainerNotFound))
	}
	if _, err := transfer.Copy(ctx, w, hr, progress); err != nil {
		return fail(err)
	}
	if !opts.SkipHashCheck && opts.MD5 != "" {
		got := hex.EncodeToString(sum)
		if sum == nil {
			got = hr.MD5()
		}
		if err := transfer.CheckMD5(got, opts.MD5); err != nil {
			return fail(err)
		}
	}
	// (A mismatch found after Close removes the object it made.)
	if err := w.Close(); err != nil {
		return nil, d.whichMissing(ctx, op, bucket, name, mapErr(op, bucket, name, err, storage.ErrContainerNotFound))
	}
	a := w.Attrs()
	if !opts.SkipHashCheck {
		var crc [4]byte
		binary.BigEndian.PutUint32(crc[:], a.CRC32C)
		sent := hex.EncodeToString(sum)
		if sum == nil && sums&transfer.MD5 != 0 {
			sent = hr.MD5()
		}
		var mismatch error
		if got, want := hex.EncodeToString(crc[:]), hr.CRC32C(); got != want {
			mismatch = fmt.Errorf("stored CRC32C %s, sent %s", got, want)
		} else if got := hex.EncodeToString(a.MD5); len(a.MD5) > 0 && sent != "" && got != sent {
			mismatch = fmt.Errorf("stored MD5 %s, sent %s", got, sent)
		}
		if mismatch != nil {
			// GCS stored other bytes than were sent: remove them.
			_ = d.client.Bucket(bucket).Object(name).If(gcs.Conditions{GenerationMatch: a.Generation}).Delete(context.WithoutCancel(ctx))
			return nil, opError(op, bucket, name, storage.ErrHashMismatch, mismatch)
		}
	}
	return d.object(storage.NewContainer(d, bucket), a), nil
}

// DownloadObjectAsStream returns a reader of the object or a range of it.
// A whole-object read is checked against the CRC32C GCS keeps.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	const op = "DownloadObjectAsStream"
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.StreamOptions{}
	}
	bucket, name := o.Container.Name, o.Name
	if err := checkBucketName(bucket); err != nil {
		return nil, opError(op, bucket, name, err, nil)
	}
	if err := checkObjectName(name); err != nil {
		return nil, opError(op, bucket, name, err, nil)
	}
	off, length := int64(0), int64(-1)
	if r := opts.Range; r != nil {
		if r.Offset < 0 || r.Length < 0 {
			_, _, err := r.Resolve(0)
			return nil, opError(op, bucket, name, nil, err)
		}
		off = r.Offset
		if r.Length > 0 {
			length = r.Length
		}
	}
	rd, err := d.client.Bucket(bucket).Object(name).NewRangeReader(ctx, off, length)
	if err != nil {
		return nil, d.whichMissing(ctx, op, bucket, name, mapErr(op, bucket, name, err, storage.ErrObjectNotFound))
	}
	size := rd.Attrs.Size
	if off >= size && !(size == 0 && off == 0) {
		rd.Close()
		return nil, opError(op, bucket, name, storage.ErrInvalidRange, fmt.Errorf("offset %d of an object of %d bytes", off, size))
	}
	n := rd.Remain()
	body := d.resuming(ctx, rd, bucket, name, off, off+n)
	var r io.Reader = body
	if opts.Range == nil && !opts.SkipHashCheck {
		r = transfer.NewVerifyingReader(r, n, transfer.Want{CRC32C: crcHex(rd.Attrs.CRC32C)})
	}
	return transfer.NewReader(ctx, transfer.MapReadErrors(r, func(err error) error {
		return mapErr("Read", bucket, name, err, storage.ErrObjectNotFound)
	}), body, n, opts.Progress), nil
}

// resuming reads rd, the bytes [start, end) of an object, and, if the
// connection fails, reads the rest from the same generation.
func (d *Driver) resuming(ctx context.Context, rd *gcs.Reader, bucket, name string, start, end int64) *transfer.ResumingReader {
	obj := d.client.Bucket(bucket).Object(name).Generation(rd.Attrs.Generation)
	return transfer.NewResumingReader(ctx, rd, start, end, func(ctx context.Context, off int64) (io.ReadCloser, error) {
		r, err := obj.NewRangeReader(ctx, off, end-off)
		if err != nil {
			return nil, mapErr("Read", bucket, name, err, storage.ErrObjectNotFound)
		}
		return r, nil
	})
}

func crcHex(c uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c)
	return hex.EncodeToString(b[:])
}

// DownloadObject writes an object to a file: in one read up to the part
// size, else in ranges fetched concurrently, pinned to the generation read
// first, the whole checked against the stored CRC32C.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	if err := storage.ValidateObject(o); err != nil {
		return opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.DownloadOptions{}
	}
	bucket, name := o.Container.Name, o.Name
	dest, err := transfer.DestinationPath(destPath, name)
	if err != nil {
		return opError(op, bucket, name, nil, err)
	}
	if err := checkBucketName(bucket); err != nil {
		return opError(op, bucket, name, err, nil)
	}
	if err := checkObjectName(name); err != nil {
		return opError(op, bucket, name, err, nil)
	}
	// A download pinned to one version starts again if the object is
	// replaced meanwhile.
	err = transfer.DownloadFile(dest, opts.Overwrite, func(f *transfer.File) error {
		return d.downloadTo(ctx, f, bucket, name, opts)
	})
	return mapErr(op, bucket, name, err, nil)
}

func (d *Driver) downloadTo(ctx context.Context, f *transfer.File, bucket, name string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	a, err := d.attrs(ctx, op, bucket, name)
	if err != nil {
		return err
	}
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, a.Size) }
	}
	var want transfer.Want
	if !opts.SkipHashCheck {
		want.CRC32C = crcHex(a.CRC32C)
	}
	if a.Size <= d.partSize {
		// One read is one generation: no pinning, checked as it streams.
		rd, err := d.client.Bucket(bucket).Object(name).NewReader(ctx)
		if err != nil {
			return d.whichMissing(ctx, op, bucket, name, mapErr(op, bucket, name, err, storage.ErrObjectNotFound))
		}
		body := d.resuming(ctx, rd, bucket, name, 0, rd.Attrs.Size)
		defer body.Close()
		if !opts.SkipHashCheck {
			want.CRC32C = crcHex(rd.Attrs.CRC32C)
		}
		if err := f.Truncate(0); err != nil {
			return opError(op, bucket, name, nil, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return opError(op, bucket, name, nil, err)
		}
		_, err = transfer.Copy(ctx, f, transfer.NewVerifyingReader(body, rd.Attrs.Size, want), progress)
		return mapErr(op, bucket, name, err, storage.ErrObjectNotFound)
	}
	obj := d.client.Bucket(bucket).Object(name).Generation(a.Generation)
	fetch := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		rd, err := obj.NewRangeReader(ctx, off, n)
		if err != nil {
			if errors.Is(err, gcs.ErrObjectNotExist) {
				return 0, fmt.Errorf("%w: %w", transfer.ErrReplaced, err)
			}
			return 0, err
		}
		defer rd.Close()
		return transfer.Copy(ctx, w, rd, nil)
	}
	err = transfer.RangeDownload{
		Size: a.Size, Chunk: d.partSize, Workers: d.concurrency,
		Fetch: fetch, Want: want, Progress: progress,
	}.Run(ctx, f)
	return mapErr(op, bucket, name, err, storage.ErrObjectNotFound)
}
