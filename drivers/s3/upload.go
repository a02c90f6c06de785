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
	var off int64
	next := func() (*part, error) {
		if off >= size {
			return nil, io.EOF
		}
		n := min(partSize, size-off)
		p := &part{body: io.NewSectionReader(f, off, n), size: n}
		off += n
		return p, nil
	}
	return u.multipart(ctx, next, func() (string, error) {
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
	n, err := readFull(ctx, r, *small)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		defer transfer.PutBuffer(small)
		body := (*small)[:n]
		u.total = int64(n)
		return u.put(ctx, bytes.NewReader(body), int64(n), md5.Sum(body))
	}
	if err != nil {
		transfer.PutBuffer(small)
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	buffers := d.buffers.limit(d.concurrency + 1)
	defer buffers.release()
	first := buffers.get(d.partSize)
	copy(first.b, (*small)[:n])
	transfer.PutBuffer(small)
	m, err := readFull(ctx, r, first.b[n:])
	n += m
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		defer buffers.put(first)
		body := first.b[:n]
		u.total = int64(n)
		return u.put(ctx, bytes.NewReader(body), int64(n), md5.Sum(body))
	}
	if err != nil {
		buffers.put(first)
		return nil, d.opError(u.op, c.Name, name, nil, err)
	}
	pending := first
	num := 0
	eof := false
	next := func() (*part, error) {
		if pending != nil {
			p := &part{body: bytes.NewReader(pending.b), size: int64(len(pending.b)), buf: pending, release: buffers.put}
			pending = nil
			num++
			return p, nil
		}
		if eof {
			return nil, io.EOF
		}
		// Parts grow every 1,000 so that 10,000 of them reach S3's 5 TiB.
		b := buffers.get(min(d.partSize<<(num/1000), 5<<30))
		n, err := readFull(ctx, r, b.b)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
			if n == 0 {
				buffers.put(b)
				return nil, io.EOF
			}
		case err != nil:
			buffers.put(b)
			return nil, err
		}
		b.b = b.b[:n]
		num++
		return &part{body: bytes.NewReader(b.b), size: int64(n), buf: b, release: buffers.put}, nil
	}
	return u.multipart(ctx, next, func() (string, error) {
		if whole == nil {
			return "", nil
		}
		return whole.MD5(), nil
	})
}

// readFull fills b from r like io.ReadFull, stopping when ctx ends.
func readFull(ctx context.Context, r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(b[n:min(len(b), n+transfer.BufferSize)])
		n += m
		if err == io.EOF {
			if n == 0 {
				return 0, io.EOF
			}
			return n, io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
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

func (u *upload) object(size int64, etag string) *storage.Object {
	o := storage.NewObject(storage.NewContainer(u.d, u.bucket), u.key)
	o.Size = size
	o.ETag = etag
	o.ContentType = u.ctype
	o.Metadata = u.meta
	o.ModTime = now()
	return o
}

// part is one part of a multipart upload. Its body is seekable, so the SDK
// can send it again on a retry.
type part struct {
	num     int32
	body    io.ReadSeeker
	size    int64
	buf     *buffer
	release func(*buffer)
}

// multipart runs a multipart upload of the parts next returns until
// io.EOF. wholeMD5 returns, once every part was read, the whole content's
// MD5 if the caller gave one to compare with. On any failure the upload is
// aborted, leaving no object and no parts.
func (u *upload) multipart(ctx context.Context, next func() (*part, error), wholeMD5 func() (string, error)) (*storage.Object, error) {
	d := u.d
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

	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu        sync.Mutex
		completed []types.CompletedPart
		sums      = map[int32][4]byte{}
		wg        sync.WaitGroup
		slots     = make(chan struct{}, d.concurrency)
		size      int64
	)
	for num := int32(1); ; num++ {
		p, err := next()
		if err == io.EOF {
			break
		}
		if err == nil && num > maxParts {
			err = fmt.Errorf("more than %d parts: raise the part size", maxParts)
		}
		if err != nil {
			cancel(err)
			if p != nil && p.release != nil {
				p.release(p.buf)
			}
			break
		}
		p.num = num
		size += p.size
		select {
		case slots <- struct{}{}:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
			if p.release != nil {
				p.release(p.buf)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if p.release != nil {
				defer p.release(p.buf)
			}
			etag, sum, err := u.uploadPart(wctx, uploadID, p)
			if err != nil {
				cancel(err)
				return
			}
			mu.Lock()
			completed = append(completed, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(p.num),
				ChecksumCRC32C: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
			sums[p.num] = sum
			mu.Unlock()
			u.sentBytes(p.size)
		}()
	}
	wg.Wait()
	if err := context.Cause(wctx); err != nil {
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
	out, err := d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.bucket),
		Key:             aws.String(u.key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
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
func (u *upload) uploadPart(ctx context.Context, uploadID *string, p *part) (string, [4]byte, error) {
	h := crc32.New(castagnoli)
	bp := transfer.GetBuffer()
	_, err := io.CopyBuffer(h, p.body, *bp)
	transfer.PutBuffer(bp)
	var sum [4]byte
	if err != nil {
		return "", sum, err
	}
	binary.BigEndian.PutUint32(sum[:], h.Sum32())
	if _, err := p.body.Seek(0, io.SeekStart); err != nil {
		return "", sum, err
	}
	out, err := u.d.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            aws.String(u.bucket),
		Key:               aws.String(u.key),
		UploadId:          uploadID,
		PartNumber:        aws.Int32(p.num),
		Body:              p.body,
		ContentLength:     aws.Int64(p.size),
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

// buffer is a part's memory.
type buffer struct{ b []byte }

// bufferPool keeps part buffers between uploads.
type bufferPool struct {
	size int64
	pool sync.Pool
}

func newBufferPool(size int64) *bufferPool { return &bufferPool{size: size} }

// limit returns a view of the pool that hands out at most n buffers at
// once: get blocks until one is put back. Within one upload the buffers
// are reused from its own free list, so an upload allocates at most n
// buffers and makes no garbage for the collector to lag behind on.
func (p *bufferPool) limit(n int) *limitedBuffers {
	return &limitedBuffers{p: p, slots: make(chan struct{}, n)}
}

type limitedBuffers struct {
	p     *bufferPool
	slots chan struct{}
	mu    sync.Mutex
	free  []*buffer
}

// get returns a buffer of n bytes, waiting while the limit is reached.
func (l *limitedBuffers) get(n int64) *buffer {
	l.slots <- struct{}{}
	l.mu.Lock()
	for i, b := range l.free {
		if int64(cap(b.b)) >= n {
			l.free = slices.Delete(l.free, i, i+1)
			l.mu.Unlock()
			b.b = b.b[:n]
			return b
		}
	}
	l.mu.Unlock()
	if n == l.p.size {
		if b, ok := l.p.pool.Get().(*buffer); ok {
			b.b = b.b[:n]
			return b
		}
	}
	return &buffer{b: make([]byte, n)}
}

func (l *limitedBuffers) put(b *buffer) {
	l.mu.Lock()
	l.free = append(l.free, b)
	l.mu.Unlock()
	<-l.slots
}

// release hands the upload's buffers back to the pool for later uploads.
func (l *limitedBuffers) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.free {
		if int64(cap(b.b)) == l.p.size {
			l.p.pool.Put(b)
		}
	}
	l.free = nil
}
