package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

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
	start := int64(0)
	if opts.Range != nil {
		start = opts.Range.Offset
	}
	body := d.resuming(ctx, out, bucket, key, start, start+n)
	var r io.Reader = body
	if in.Range == nil && !opts.SkipHashCheck {
		sum := md5FromETag(aws.ToString(out.ETag), string(out.ServerSideEncryption), aws.ToString(out.SSECustomerAlgorithm))
		r = transfer.NewVerifyingReader(r, n, transfer.Want{MD5: sum})
	}
	r = transfer.MapReadErrors(r, func(err error) error {
		return d.mapErr("Read", bucket, key, err, storage.ErrObjectNotFound)
	})
	return transfer.NewReader(ctx, r, body, n, opts.Progress), nil
}

// resuming reads the body of a GetObject of the bytes [start, end) and,
// if the connection fails, asks for the rest with a Range pinned to the
// same ETag.
func (d *Driver) resuming(ctx context.Context, out *s3.GetObjectOutput, bucket, key string, start, end int64) *transfer.ResumingReader {
	etag := out.ETag
	return transfer.NewResumingReader(ctx, out.Body, start, end, func(ctx context.Context, off int64) (io.ReadCloser, error) {
		o, err := d.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: etag,
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1)),
		})
		if err != nil {
			return nil, d.mapErr("Read", bucket, key, err, storage.ErrObjectNotFound)
		}
		return o.Body, nil
	})
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
	// A download pinned to one version starts again if the object is
	// replaced meanwhile.
	err = transfer.DownloadFile(dest, opts.Overwrite, func(f *transfer.File) error {
		return d.downloadTo(ctx, f, bucket, key, opts)
	})
	return d.mapErr(op, bucket, key, err, nil)
}

// downloadTo fills f with the object: in one GET up to the part size, else
// in concurrent ranges pinned to the ETag a HEAD gives.
func (d *Driver) downloadTo(ctx context.Context, f *transfer.File, bucket, key string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	head, err := d.head(ctx, op, bucket, key, types.ChecksumModeEnabled)
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
		size = aws.ToInt64(out.ContentLength)
		body := d.resuming(ctx, out, bucket, key, 0, size)
		defer body.Close()
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
		_, err = transfer.Copy(ctx, f, transfer.NewVerifyingReader(body, size, want), progress)
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
				return 0, fmt.Errorf("%w: %w", transfer.ErrReplaced, err)
			}
			return 0, err
		}
		defer out.Body.Close()
		return transfer.Copy(ctx, w, out.Body, nil)
	}
	rd := transfer.RangeDownload{
		Size: size, Chunk: d.partSize, Workers: d.concurrency,
		Fetch: fetch, Want: want, Progress: progress,
	}
	parts, partSize := 0, int64(0)
	if !opts.SkipHashCheck && want.MD5 == "" {
		parts, partSize = d.partLayout(ctx, bucket, key, head)
	}
	// A composite CRC32C (this driver's uploads make one) is checked with
	// the parts' CRC32Cs, a tenth of the cost of the MD5s an ETag needs.
	crcs := strings.HasSuffix(aws.ToString(head.ChecksumCRC32C), fmt.Sprintf("-%d", parts))
	var partSums [][]byte
	if parts > 0 {
		rd.Chunk = partSize
		partSums = make([][]byte, parts)
		rd.ChunkSums = transfer.MD5
		if crcs {
			rd.ChunkSums = transfer.CRC32C
		}
		rd.ChunkDone = func(k int64, h *transfer.Hasher) error {
			sum := h.MD5()
			if crcs {
				sum = h.CRC32C()
			}
			partSums[k], _ = hex.DecodeString(sum)
			return nil
		}
	}
	if err := rd.Run(ctx, f); err != nil {
		return d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound)
	}
	switch {
	case parts > 0 && crcs:
		return d.checkComposite(ctx, bucket, key, etag, aws.ToString(head.ChecksumCRC32C), partSums, partSize)
	case parts > 0:
		return d.checkMultipartETag(ctx, bucket, key, etag, partSums, partSize)
	}
	return nil
}

// checkComposite compares the CRC32C of the parts' CRC32Cs with the
// object's composite checksum.
func (d *Driver) checkComposite(ctx context.Context, bucket, key, etag, want string, partCRCs [][]byte, partSize int64) error {
	sums := make(map[int32][4]byte, len(partCRCs))
	for i, c := range partCRCs {
		sums[int32(i+1)] = [4]byte(c)
	}
	if got := compositeCRC32C(sums); got != want {
		return d.partsDiffer(ctx, bucket, key, etag, len(partCRCs), partSize,
			fmt.Errorf("the parts' CRC32Cs make %s, the object's is %s", got, want))
	}
	return nil
}

// partLayout returns the number of parts of a multipart object and the
// size of its first, if the parts can be taken to be of that one size
// (all but the last, as this driver and most uploaders make them). It
// returns 0 when the object is not multipart or its ETag is no MD5 of
// MD5s (KMS, customer keys).
func (d *Driver) partLayout(ctx context.Context, bucket, key string, head *s3.HeadObjectOutput) (int, int64) {
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	sum, count, ok := strings.Cut(etag, "-")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || len(sum) != 32 || strings.HasPrefix(string(head.ServerSideEncryption), "aws:kms") ||
		aws.ToString(head.SSECustomerAlgorithm) != "" {
		return 0, 0
	}
	first, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		PartNumber: aws.Int32(1), IfMatch: head.ETag})
	if err != nil || aws.ToInt32(first.PartsCount) != int32(n) {
		return 0, 0
	}
	p, size := aws.ToInt64(first.ContentLength), aws.ToInt64(head.ContentLength)
	if p <= 0 || int64(n-1)*p >= size || int64(n)*p < size {
		return 0, 0 // parts of several sizes: no ranges along them
	}
	return n, p
}

// checkMultipartETag compares the MD5 of the parts' MD5s with the ETag.
// A mismatch is a corruption unless the parts were not of one size after
// all, which a HEAD of each part tells.
func (d *Driver) checkMultipartETag(ctx context.Context, bucket, key, etag string, partMD5s [][]byte, partSize int64) error {
	h := md5.New()
	for _, s := range partMD5s {
		h.Write(s)
	}
	got := fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(partMD5s))
	if got == strings.Trim(etag, `"`) {
		return nil
	}
	return d.partsDiffer(ctx, bucket, key, etag, len(partMD5s), partSize,
		fmt.Errorf("the parts' MD5s make ETag %s, the object's is %s", got, etag))
}

// partsDiffer returns mismatch as ErrHashMismatch unless the parts were
// not all of one size after all (then the sums were taken over the wrong
// spans and prove nothing), which a HEAD of each part tells.
func (d *Driver) partsDiffer(ctx context.Context, bucket, key, etag string, parts int, partSize int64, mismatch error) error {
	for i := 1; i < parts; i++ {
		p, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			PartNumber: aws.Int32(int32(i)), IfMatch: aws.String(etag)})
		if err != nil {
			return d.mapErr("DownloadObject", bucket, key, err, storage.ErrObjectNotFound)
		}
		if aws.ToInt64(p.ContentLength) != partSize {
			return nil // parts of several sizes: nothing to compare
		}
	}
	return d.opError("DownloadObject", bucket, key, storage.ErrHashMismatch, mismatch)
}
