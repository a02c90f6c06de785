package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// DownloadObjectAsStream returns the body of a GetObject, of a range of
// the object when asked. A whole object whose ETag is an MD5 is checked
// against it at the end.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	const op = "DownloadObjectAsStream"
	if err := storage.ValidateObject(o); err != nil {
		return nil, d.opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.StreamOptions{}
	}
	bucket, key := o.Container.Name, o.Name
	if err := checkBucketName(bucket); err != nil {
		return nil, d.opError(op, bucket, key, err, nil)
	}
	if err := checkKey(key); err != nil {
		return nil, d.opError(op, bucket, key, err, nil)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if r := opts.Range; r != nil {
		if r.Offset < 0 || r.Length < 0 {
			_, _, err := r.Resolve(0)
			return nil, d.opError(op, bucket, key, nil, err)
		}
		switch {
		case r.Length > 0:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1))
		case r.Offset > 0:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.Offset))
		}
	}
	out, err := d.client.GetObject(ctx, in)
	if err != nil {
		return nil, d.whichMissing(ctx, op, bucket, key, d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound))
	}
	n := aws.ToInt64(out.ContentLength)
	var r io.Reader = out.Body
	if in.Range == nil && !opts.SkipHashCheck {
		sum := md5FromETag(aws.ToString(out.ETag), string(out.ServerSideEncryption), aws.ToString(out.SSECustomerAlgorithm))
		r = transfer.NewVerifyingReader(r, n, transfer.Want{MD5: sum})
	}
	return transfer.NewReader(ctx, r, out.Body, n, opts.Progress), nil
}

// DownloadObject writes an object to a file: in one GET up to the part
// size, else in ranges fetched concurrently, each pinned to the ETag seen
// first so that an object replaced meanwhile fails the download instead of
// mixing two versions.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	if err := storage.ValidateObject(o); err != nil {
		return d.opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.DownloadOptions{}
	}
	bucket, key := o.Container.Name, o.Name
	dest, err := transfer.DestinationPath(destPath, key)
	if err != nil {
		return d.opError(op, bucket, key, nil, err)
	}
	f, err := transfer.CreateFile(dest, opts.Overwrite)
	if err != nil {
		return d.opError(op, bucket, key, nil, err)
	}
	defer f.Close()
	// A ranged download pinned to an ETag fails when the object is
	// replaced meanwhile; it then starts again on the new version.
	for attempt := 1; ; attempt++ {
		err := d.downloadTo(ctx, f, bucket, key, opts)
		if err == nil {
			break
		}
		if attempt == 3 || !errors.Is(err, errReplaced) {
			return err
		}
	}
	if err := f.Commit(); err != nil {
		return d.opError(op, bucket, key, nil, err)
	}
	return nil
}

// errReplaced means the object changed during a ranged download.
var errReplaced = errors.New("object replaced during the download")

// downloadTo fills f with the object: in one GET up to the part size, else
// in concurrent ranges pinned to the ETag a HEAD gives.
func (d *Driver) downloadTo(ctx context.Context, f *transfer.File, bucket, key string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	head, err := d.head(ctx, op, bucket, key)
	if err != nil {
		return err
	}
	size := aws.ToInt64(head.ContentLength)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, size) }
	}
	if size <= d.partSize {
		// One request is one version: no pinning, hashed as it streams.
		out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return d.whichMissing(ctx, op, bucket, key, d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound))
		}
		defer out.Body.Close()
		size = aws.ToInt64(out.ContentLength)
		var want transfer.Want
		if !opts.SkipHashCheck {
			want.MD5 = md5FromETag(aws.ToString(out.ETag), string(out.ServerSideEncryption), aws.ToString(out.SSECustomerAlgorithm))
		}
		if err := f.Truncate(0); err != nil {
			return d.opError(op, bucket, key, nil, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return d.opError(op, bucket, key, nil, err)
		}
		_, err = transfer.Copy(ctx, f, transfer.NewVerifyingReader(out.Body, size, want), progress)
		return d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound)
	}
	etag := aws.ToString(head.ETag)
	var want transfer.Want
	if !opts.SkipHashCheck {
		want.MD5 = md5FromETag(etag, string(head.ServerSideEncryption), aws.ToString(head.SSECustomerAlgorithm))
	}
	fetch := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		out, err := d.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: aws.String(etag),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
		})
		if err != nil {
			if code(err) == "PreconditionFailed" {
				return 0, fmt.Errorf("%w: %w", errReplaced, err)
			}
			return 0, err
		}
		defer out.Body.Close()
		return transfer.Copy(ctx, w, out.Body, nil)
	}
	err = transfer.RangeDownload{
		Size: size, Chunk: d.partSize, Workers: d.concurrency,
		Fetch: fetch, Want: want, Progress: progress,
	}.Run(ctx, f)
	return d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound)
}
