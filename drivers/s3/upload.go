package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10_000

// upload is what every upload shares: where it goes and how.
type upload struct {
	d        *Driver
	op       string
	bucket   string
	key      string
	opts     *storage.UploadOptions
	meta     map[string]string
	ctype    string
	total    int64 // -1 when unknown
	sent     atomic.Int64
	progress sync.Mutex
}

func (d *Driver) newUpload(op string, c *storage.Container, key string, opts *storage.UploadOptions) (*upload, error) {
	if err := storage.ValidateContainer(c); err != nil {
		return nil, d.opError(op, "", key, nil, err)
	}
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	if err := opts.Validate(); err != nil {
		return nil, d.opError(op, c.Name, key, nil, err)
	}
	if err := checkBucketName(c.Name); err != nil {
		return nil, d.opError(op, c.Name, key, err, nil)
	}
	if err := checkKey(key); err != nil {
		return nil, d.opError(op, c.Name, key, err, nil)
	}
	meta, err := transfer.Metadata(opts.Metadata)
	if err != nil {
		return nil, d.opError(op, c.Name, key, nil, err)
	}
	return &upload{d: d, op: op, bucket: c.Name, key: key, opts: opts, meta: meta,
		ctype: transfer.ContentType(key, opts.ContentType), total: -1}, nil
}

// sentBytes reports n more bytes stored to the caller's Progress.
func (u *upload) sentBytes(n int64) {
	done := u.sent.Add(n)
	if u.opts.Progress != nil {
		u.progress.Lock()
		u.opts.Progress(done, u.total)
		u.progress.Unlock()
	}
}

func (u *upload) fail(err error) error {
	if u.opts.IfMatch != "" && code(err) == "NoSuchKey" {
		// S3 answers an If-Match on a missing key with 404.
		return u.d.opError(u.op, u.bucket, u.key, storage.ErrPreconditionFailed, err)
	}
	return u.d.mapErr(u.op, u.bucket, u.key, err, storage.ErrContainerNotFound)
}

// UploadObject uploads a file: in one request up to the part size, else in
// parts read concurrently from sections of the file.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	u, err := d.newUpload("UploadObject", c, name, opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filePath)
	if err != nil {
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, d.opError(u.op, c.Name, name, storage.ErrInvalidArgument, fmt.Errorf("%q is not a regular file", filePath))
	}
	size := fi.Size()
	u.total = size
	if size <= d.partSize {
		sum, err := md5Of(io.NewSectionReader(f, 0, size))
		if err != nil {
			return nil, d.opError(u.op, c.Name, name, nil, err)
		}
		return u.put(ctx, io.NewSectionReader(f, 0, size), size, sum)
	}
	partSize := max(d.partSize, (size+maxParts-1)/maxParts)
	var whole chan hashResult
	if u.opts.MD5 != "" && !u.opts.SkipHashCheck {
		// The whole file's MD5 is only needed to compare with the caller's.
		whole = make(chan hashResult, 1)
		go func() {
			sum, err := md5Of(io.NewSectionReader(f, 0, size))
			whole <- hashResult{hex.EncodeToString(sum[:]), err}
		}()
	}
	return u.multipart(ctx, transfer.FileParts(f, size, partSize), func() (string, error) {
		if whole == nil {
			return "", nil
		}
		r := <-whole
		return r.md5, r.err
	})
}

type hashResult struct {
	md5 string
	err error
}

func md5Of(r io.Reader) ([16]byte, error) {
	h := md5.New()
	bp := transfer.GetBuffer()
	defer transfer.PutBuffer(bp)
	if _, err := io.CopyBuffer(h, r, *bp); err != nil {
		return [16]byte{}, err
	}
	return [16]byte(h.Sum(nil)), nil
}

// UploadObjectViaStream uploads a stream of unknown size: what fits in one
// part goes in one request; beyond that the stream is cut into parts as it
// arrives, holding at most concurrency + 1 parts in memory.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	u, err := d.newUpload("UploadObjectViaStream", c, name, opts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, d.opError(u.op, c.Name, name, storage.ErrInvalidArgument, errors.New("nil reader"))
	}
	if err := ctx.Err(); err != nil {
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	var whole *transfer.HashingReader
	if u.opts.MD5 != "" && !u.opts.SkipHashCheck {
		whole = transfer.NewHashingReader(r, transfer.MD5)
		r = whole
	}
	// A small first read keeps small objects from taking a whole part's
	// memory.
	small := transfer.GetBuffer()
	defer transfer.PutBuffer(small)
	n, err := transfer.ReadFull(ctx, r, *small)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		body := (*small)[:n]
		u.total = int64(n)
		return u.put(ctx, bytes.NewReader(body), int64(n), md5.Sum(body))
	}
	if err != nil {
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	bufs := d.buffers.Limit(d.concurrency + 1)
	defer bufs.Release()
	// Parts grow every 1,000 so that 10,000 of them reach S3's 5 TiB.
	next := transfer.StreamParts(ctx, r, (*small)[:n], bufs, func(num int) int64 {
		return min(d.partSize<<((num-1)/1000), 5<<30)
	})
	first, err := next()
	if err != nil {
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	second, err := next()
	if err == io.EOF {
		// The stream fits in one part: one request.
		defer first.Done()
		sum, err := md5Of(first.Body)
		if err == nil {
			_, err = first.Body.Seek(0, io.SeekStart)
		}
		if err != nil {
			return nil, d.opError(u.op, c.Name, name, nil, err)
		}
		u.total = first.Size
		return u.put(ctx, first.Body, first.Size, sum)
	}
	if err != nil {
		first.Done()
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	pending := []*transfer.Part{first, second}
	return u.multipart(ctx, func() (*transfer.Part, error) {
		if len(pending) > 0 {
			p := pending[0]
			pending = pending[1:]
			return p, nil
		}
		return next()
	}, func() (string, error) {
		if whole == nil {
			return "", nil
		}
		return whole.MD5(), nil
	})
}

// put stores the object in one PutObject with its Content-MD5.
func (u *upload) put(ctx context.Context, body io.ReadSeeker, size int64, sum [16]byte) (*storage.Object, error) {
	md5hex := hex.EncodeToString(sum[:])
	if !u.opts.SkipHashCheck {
		if err := transfer.CheckMD5(md5hex, u.opts.MD5); err != nil {
			return nil, u.d.opError(u.op, u.bucket, u.key, nil, err)
		}
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(u.bucket),
		Key:           aws.String(u.key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ContentType:   aws.String(u.ctype),
		Metadata:      u.meta,
	}
	if u.opts.ACL != "" {
		in.ACL = types.ObjectCannedACL(u.opts.ACL)
	}
	in.IfNoneMatch, in.IfMatch = u.conditions()
	out, err := u.d.client.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return nil, u.fail(err)
	}
	etag := aws.ToString(out.ETag)
	if got := md5FromETag(etag, string(out.ServerSideEncryption), aws.ToString(out.SSECustomerAlgorithm)); got != "" && got != md5hex && !u.opts.SkipHashCheck {
		return nil, u.d.opError(u.op, u.bucket, u.key, storage.ErrHashMismatch,
			fmt.Errorf("stored ETag %s for content MD5 %s", etag, md5hex))
	}
	u.sentBytes(size)
	o := u.object(size, etag)
	o.Hash = md5hex
	return o, nil
}

// conditions returns the If-None-Match and If-Match of a conditional
// write, which S3 checks when it makes the object visible.
func (u *upload) conditions() (ifNoneMatch, ifMatch *string) {
	if u.opts.IfNotExists {
		ifNoneMatch = aws.String("*")
	}
	if u.opts.IfMatch != "" {
		ifMatch = aws.String(u.opts.IfMatch)
	}
	return ifNoneMatch, ifMatch
}

func (u *upload) object(size int64, etag string) *storage.Object {
	o := storage.NewObject(storage.NewContainer(u.d, u.bucket), u.key)
	o.Size = size
	o.ETag = etag
	o.ContentType = u.ctype
	o.Metadata = u.meta
	o.ModTime = now()
	return o
}

// multipart runs a multipart upload of the parts next returns until
// io.EOF. wholeMD5 returns, once every part was read, the whole content's
// MD5 if the caller gave one to compare with. On any failure the upload is
// aborted, leaving no object and no parts.
func (u *upload) multipart(ctx context.Context, next func() (*transfer.Part, error), wholeMD5 func() (string, error)) (*storage.Object, error) {
	d := u.d
	if u.opts.IfNotExists || u.opts.IfMatch != "" {
		// The condition is checked again, atomically, at the completion;
		// checking first spares sending every part for nothing.
		if err := u.precheck(ctx); err != nil {
			return nil, err
		}
	}
	create := &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(u.bucket),
		Key:               aws.String(u.key),
		ContentType:       aws.String(u.ctype),
		Metadata:          u.meta,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if u.opts.ACL != "" {
		create.ACL = types.ObjectCannedACL(u.opts.ACL)
	}
	mp, err := d.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return nil, u.fail(err)
	}
	uploadID := mp.UploadId
	abort := func(cause error) error {
		// The caller's context may be over; the abort must still happen.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, aerr := d.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: uploadID,
		})
		if aerr != nil {
			cause = fmt.Errorf("%w (and aborting the upload failed: %v)", cause, aerr)
		}
		return cause
	}

	var (
		mu        sync.Mutex
		completed []types.CompletedPart
		sums      = map[int32][4]byte{}
	)
	size, err := transfer.SendParts(ctx, d.concurrency, func() (*transfer.Part, error) {
		p, err := next()
		if err == nil && p.Num > maxParts {
			p.Done()
			return nil, fmt.Errorf("more than %d parts: raise the part size", maxParts)
		}
		return p, err
	}, func(ctx context.Context, p *transfer.Part) error {
		etag, sum, err := u.uploadPart(ctx, uploadID, p)
		if err != nil {
			return err
		}
		mu.Lock()
		completed = append(completed, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(int32(p.Num)),
			ChecksumCRC32C: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
		sums[int32(p.Num)] = sum
		mu.Unlock()
		u.sentBytes(p.Size)
		return nil
	})
	if err != nil {
		return nil, abort(u.fail(err))
	}
	if !u.opts.SkipHashCheck {
		sum, err := wholeMD5()
		if err == nil {
			err = transfer.CheckMD5(sum, u.opts.MD5)
		}
		if err != nil {
			return nil, abort(u.d.opError(u.op, u.bucket, u.key, nil, err))
		}
	}
	slices.SortFunc(completed, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.bucket),
		Key:             aws.String(u.key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	}
	complete.IfNoneMatch, complete.IfMatch = u.conditions()
	out, err := d.client.CompleteMultipartUpload(ctx, complete)
	if err != nil {
		return nil, abort(u.fail(err))
	}
	etag := aws.ToString(out.ETag)
	got := aws.ToString(out.ChecksumCRC32C)
	if got == "" && !u.opts.SkipHashCheck {
		// Some servers keep the checksum but leave it out of the answer.
		if h, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key),
			ChecksumMode: types.ChecksumModeEnabled}); err == nil && aws.ToString(h.ETag) == etag {
			got = aws.ToString(h.ChecksumCRC32C)
		}
	}
	if want := compositeCRC32C(sums); !u.opts.SkipHashCheck && got != "" && got != want {
		// The parts were each checked; a different whole means the server
		// assembled something else. Remove it rather than leave it.
		_, _ = d.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key)})
		return nil, u.d.opError(u.op, u.bucket, u.key, storage.ErrHashMismatch,
			fmt.Errorf("multipart CRC32C %s, expected %s", got, want))
	}
	return u.object(size, etag), nil
}

// uploadPart sends one part with its CRC32C, which the server checks. A
// CRC32C costs a tenth of an MD5: on a machine the server shares, that is
// throughput.
func (u *upload) uploadPart(ctx context.Context, uploadID *string, p *transfer.Part) (string, [4]byte, error) {
	h := crc32.New(castagnoli)
	bp := transfer.GetBuffer()
	_, err := io.CopyBuffer(h, p.Body, *bp)
	transfer.PutBuffer(bp)
	var sum [4]byte
	if err != nil {
		return "", sum, err
	}
	binary.BigEndian.PutUint32(sum[:], h.Sum32())
	if _, err := p.Body.Seek(0, io.SeekStart); err != nil {
		return "", sum, err
	}
	out, err := u.d.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            aws.String(u.bucket),
		Key:               aws.String(u.key),
		UploadId:          uploadID,
		PartNumber:        aws.Int32(int32(p.Num)),
		Body:              p.Body,
		ContentLength:     aws.Int64(p.Size),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumCRC32C:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}, unsignedPayload)
	if err != nil {
		return "", sum, err
	}
	return aws.ToString(out.ETag), sum, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// unsignedPayload spares the SHA-256 of the body that SigV4 otherwise
// computes over plain HTTP: the body is already covered by its CRC32C or
// Content-MD5 header, which is signed, and the server checks it. On a
// machine the server shares, that hash is throughput.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// compositeCRC32C is the checksum S3 gives an object made of these parts:
// the CRC32C of their CRC32Cs, in base64, a dash, and their count.
func compositeCRC32C(sums map[int32][4]byte) string {
	h := crc32.New(castagnoli)
	for i := int32(1); i <= int32(len(sums)); i++ {
		s := sums[i]
		h.Write(s[:])
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], h.Sum32())
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(b[:]), len(sums))
}

// precheck fails early when a conditional write cannot succeed.
func (u *upload) precheck(ctx context.Context) error {
	h, err := u.d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key)})
	exists := err == nil
	if err != nil && kindOf(err, storage.ErrObjectNotFound) != storage.ErrObjectNotFound {
		return u.fail(err)
	}
	switch {
	case u.opts.IfNotExists && exists:
		return u.d.opError(u.op, u.bucket, u.key, storage.ErrPreconditionFailed, errors.New("the object exists"))
	case u.opts.IfMatch != "" && !exists:
		return u.d.opError(u.op, u.bucket, u.key, storage.ErrPreconditionFailed, errors.New("the object does not exist"))
	case u.opts.IfMatch != "" && aws.ToString(h.ETag) != u.opts.IfMatch:
		return u.d.opError(u.op, u.bucket, u.key, storage.ErrPreconditionFailed,
			fmt.Errorf("the object's ETag is %s, not %s", aws.ToString(h.ETag), u.opts.IfMatch))
	}
	return nil
}
