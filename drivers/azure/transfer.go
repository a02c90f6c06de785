package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// maxBlocks is Azure's limit on the blocks of one blob.
const maxBlocks = 50_000

// upload is what every upload of one blob shares.
type upload struct {
	d         *Driver
	op        string
	container string
	name      string
	opts      *storage.UploadOptions
	meta      map[string]*string
	ctype     string
	total     int64
	progress  sync.Mutex
	sent      int64
}

func (d *Driver) newUpload(op string, c *storage.Container, name string, opts *storage.UploadOptions) (*upload, error) {
	if err := storage.ValidateContainer(c); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if opts == nil {
		opts = &storage.UploadOptions{}
	}
	if err := opts.Validate(); err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	if err := checkContainerName(c.Name); err != nil {
		return nil, opError(op, c.Name, name, err, nil)
	}
	if err := checkBlobName(name); err != nil {
		return nil, opError(op, c.Name, name, err, nil)
	}
	meta, err := checkMetadata(opts.Metadata)
	if err != nil {
		return nil, opError(op, c.Name, name, nil, err)
	}
	return &upload{d: d, op: op, container: c.Name, name: name, opts: opts, meta: meta,
		ctype: transfer.ContentType(name, opts.ContentType), total: -1}, nil
}

func (u *upload) client() *blockblob.Client {
	return u.d.containerClient(u.container).NewBlockBlobClient(u.name)
}

func (u *upload) sentBytes(n int64) {
	if u.opts.Progress == nil {
		return
	}
	u.progress.Lock()
	u.sent += n
	u.opts.Progress(u.sent, u.total)
	u.progress.Unlock()
}

func (u *upload) fail(err error) error {
	if u.opts.IfMatch != "" && bloberror.HasCode(err, bloberror.BlobNotFound) {
		// An If-Match on a missing blob: the condition failed.
		return opError(u.op, u.container, u.name, storage.ErrPreconditionFailed, redact(err))
	}
	return u.d.whichMissing(context.Background(), u.op, u.container, u.name,
		mapErr(u.op, u.container, u.name, err, storage.ErrContainerNotFound))
}

func (u *upload) headers(sum []byte) *blob.HTTPHeaders {
	return &blob.HTTPHeaders{BlobContentType: &u.ctype, BlobContentMD5: sum}
}

// UploadObject uploads a file: in one Put Blob up to the block size, else
// in blocks read straight from the file. The SDK's UploadFile sends up to
// 256 MiB in one Put Blob; with the MD5 that Azure checks, which must be
// read before such a request, that measured 0.7 times its speed, and
// blocks (whose MD5s are computed concurrently) 1.04-1.08 times.
func (d *Driver) UploadObject(ctx context.Context, filePath string, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	u, err := d.newUpload("UploadObject", c, name, opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filePath)
	if err != nil {
		return nil, opError(u.op, c.Name, name, nil, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, opError(u.op, c.Name, name, nil, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, opError(u.op, c.Name, name, storage.ErrInvalidArgument, fmt.Errorf("%q is not a regular file", filePath))
	}
	size := fi.Size()
	u.total = size
	if size <= u.d.blockSize {
		if u.opts.SkipHashCheck {
			// Azure computes the stored Content-MD5 of a Put Blob itself.
			return u.put(ctx, io.NewSectionReader(f, 0, size), size, nil)
		}
		// The MD5 goes with the request, so that Azure refuses the upload
		// before it replaces anything if the bytes changed on the way.
		h := md5.New()
		if _, err := transfer.Copy(ctx, h, io.NewSectionReader(f, 0, size), nil); err != nil {
			return nil, opError(u.op, c.Name, name, nil, err)
		}
		sum := h.Sum(nil)
		if err := u.checkWhole(sum); err != nil {
			return nil, err
		}
		return u.put(ctx, io.NewSectionReader(f, 0, size), size, sum)
	}
	// Blocks carry their own MD5s; the whole file's, for the commit, is
	// computed from the file beside the staging.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	whole := make(chan hashResult, 1)
	go func() {
		h := md5.New()
		_, err := transfer.Copy(hctx, h, io.NewSectionReader(f, 0, size), nil)
		whole <- hashResult{h.Sum(nil), err}
	}()
	blockSize := max(d.blockSize, (size+maxBlocks-1)/maxBlocks)
	return u.blocks(ctx, transfer.FileParts(f, size, blockSize), func() ([]byte, error) {
		r := <-whole
		if r.err != nil {
			return nil, opError(u.op, c.Name, name, nil, r.err)
		}
		return r.sum, u.checkWhole(r.sum)
	})
}

type hashResult struct {
	sum []byte
	err error
}

// checkWhole compares the content's MD5 with the one the caller gave.
func (u *upload) checkWhole(sum []byte) error {
	if u.opts.SkipHashCheck {
		return nil
	}
	if err := transfer.CheckMD5(hex.EncodeToString(sum), u.opts.MD5); err != nil {
		return opError(u.op, u.container, u.name, nil, err)
	}
	return nil
}

// UploadObjectViaStream uploads a stream of unknown size: in one Put Blob
// if it ends within a block, else as blocks staged concurrently and then
// committed, with at most concurrency + 1 blocks in memory.
func (d *Driver) UploadObjectViaStream(ctx context.Context, r io.Reader, c *storage.Container, name string, opts *storage.UploadOptions) (*storage.Object, error) {
	u, err := d.newUpload("UploadObjectViaStream", c, name, opts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, opError(u.op, c.Name, name, storage.ErrInvalidArgument, errors.New("nil reader"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(u.op, c.Name, name, nil, err)
	}
	whole := transfer.NewHashingReader(r, transfer.MD5)
	small := transfer.GetBuffer()
	defer transfer.PutBuffer(small)
	n, err := transfer.ReadFull(ctx, whole, *small)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		sum, _ := hex.DecodeString(whole.MD5())
		if err := u.checkWhole(sum); err != nil {
			return nil, err
		}
		u.total = int64(n)
		return u.put(ctx, bytes.NewReader((*small)[:n]), int64(n), sum)
	}
	if err != nil {
		return nil, opError(u.op, c.Name, name, nil, err)
	}
	bufs := d.buffers.Limit(d.concurrency + 1)
	defer bufs.Release()
	next := transfer.StreamParts(ctx, whole, (*small)[:n], bufs, func(int) int64 { return d.blockSize })
	return u.blocks(ctx, next, func() ([]byte, error) {
		sum, _ := hex.DecodeString(whole.MD5())
		return sum, u.checkWhole(sum)
	})
}

// put stores the blob in one request with its Content-MD5, which Azure
// checks.
func (u *upload) put(ctx context.Context, body io.ReadSeeker, size int64, sum []byte) (*storage.Object, error) {
	opts := &blockblob.UploadOptions{HTTPHeaders: u.headers(sum), Metadata: u.meta, AccessConditions: accessConditions(u.opts)}
	if sum != nil {
		opts.TransactionalValidation = blob.TransferValidationTypeMD5(sum)
	}
	resp, err := u.client().Upload(ctx, streaming.NopCloser(body), opts)
	if err != nil {
		return nil, u.fail(err)
	}
	u.sentBytes(size)
	if sum == nil {
		sum = resp.ContentMD5
	}
	o := u.object(size, sum)
	if resp.ETag != nil {
		o.ETag = string(*resp.ETag)
	}
	if resp.LastModified != nil {
		o.ModTime = *resp.LastModified
	}
	return o, nil
}

func (u *upload) object(size int64, sum []byte) *storage.Object {
	o := storage.NewObject(storage.NewContainer(u.d, u.container), u.name)
	o.Size = size
	o.Hash = hex.EncodeToString(sum)
	o.ContentType = u.ctype
	o.Metadata = lowerMetadata(u.meta)
	return o
}

// blocks stages the parts next yields as blocks, each with its MD5 for
// Azure to check, then commits the list with the whole blob's MD5 from
// wholeMD5. Until the commit nothing is visible; on failure nothing is
// committed and Azure drops the staged blocks.
func (u *upload) blocks(ctx context.Context, next func() (*transfer.Part, error), wholeMD5 func() ([]byte, error)) (*storage.Object, error) {
	// A random prefix keeps the block IDs of concurrent uploads of one
	// name apart; every ID of a blob must have the same length.
	var prefix [16]byte
	_, _ = rand.Read(prefix[:])
	blockID := func(num int) string {
		var id [20]byte
		copy(id[:], prefix[:])
		binary.BigEndian.PutUint32(id[16:], uint32(num))
		return base64.StdEncoding.EncodeToString(id[:])
	}
	if err := u.precheck(ctx); err != nil {
		return nil, err
	}
	bb := u.client()
	var (
		mu  sync.Mutex
		ids []string
	)
	size, err := transfer.SendParts(ctx, u.d.concurrency, func() (*transfer.Part, error) {
		p, err := next()
		if err == nil && p.Num > maxBlocks {
			p.Done()
			return nil, fmt.Errorf("more than %d blocks: raise the block size", maxBlocks)
		}
		return p, err
	}, func(ctx context.Context, p *transfer.Part) error {
		sum, err := md5Of(p.Body)
		if err != nil {
			return err
		}
		if _, err := bb.StageBlock(ctx, blockID(p.Num), streaming.NopCloser(p.Body), &blockblob.StageBlockOptions{
			TransactionalValidation: blob.TransferValidationTypeMD5(sum),
		}); err != nil {
			return err
		}
		mu.Lock()
		for len(ids) < p.Num {
			ids = append(ids, "")
		}
		ids[p.Num-1] = blockID(p.Num)
		mu.Unlock()
		u.sentBytes(p.Size)
		return nil
	})
	if err != nil {
		return nil, u.fail(err)
	}
	sum, err := wholeMD5()
	if err != nil {
		return nil, err
	}
	resp, err := bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		HTTPHeaders:      u.headers(sum),
		Metadata:         u.meta,
		AccessConditions: accessConditions(u.opts),
	})
	if err != nil {
		return nil, u.fail(err)
	}
	o := u.object(size, sum)
	if resp.ETag != nil {
		o.ETag = string(*resp.ETag)
	}
	if resp.LastModified != nil {
		o.ModTime = *resp.LastModified
	}
	return o, nil
}

// md5Of hashes a part's body and rewinds it for sending.
func md5Of(r io.ReadSeeker) ([]byte, error) {
	h := md5.New()
	bp := transfer.GetBuffer()
	_, err := io.CopyBuffer(h, r, *bp)
	transfer.PutBuffer(bp)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// DownloadObjectAsStream returns a reader of the blob or a range of it,
// through the SDK's retry reader, which resumes a dropped connection where
// it stopped. A whole blob is checked against its Content-MD5.
func (d *Driver) DownloadObjectAsStream(ctx context.Context, o *storage.Object, opts *storage.StreamOptions) (io.ReadCloser, error) {
	const op = "DownloadObjectAsStream"
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.StreamOptions{}
	}
	cont, name := o.Container.Name, o.Name
	if err := checkContainerName(cont); err != nil {
		return nil, opError(op, cont, name, err, nil)
	}
	if err := checkBlobName(name); err != nil {
		return nil, opError(op, cont, name, err, nil)
	}
	var rng blob.HTTPRange
	if r := opts.Range; r != nil {
		if r.Offset < 0 || r.Length < 0 {
			_, _, err := r.Resolve(0)
			return nil, opError(op, cont, name, nil, err)
		}
		rng = blob.HTTPRange{Offset: r.Offset, Count: r.Length}
	}
	resp, err := d.containerClient(cont).NewBlobClient(name).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng})
	if err != nil {
		return nil, d.whichMissing(ctx, op, cont, name, mapErr(op, cont, name, err, storage.ErrObjectNotFound))
	}
	n := deref(resp.ContentLength)
	if opts.Range != nil && rng.Offset > 0 {
		// Azurite answers a range starting at the end with no bytes rather
		// than 416; the total size in Content-Range tells.
		if total, ok := rangeTotal(deref(resp.ContentRange)); ok && rng.Offset >= total {
			resp.Body.Close()
			return nil, opError(op, cont, name, storage.ErrInvalidRange, fmt.Errorf("offset %d of a blob of %d bytes", rng.Offset, total))
		}
	}
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 5})
	var r io.Reader = body
	if opts.Range == nil && !opts.SkipHashCheck {
		r = transfer.NewVerifyingReader(r, n, transfer.Want{MD5: hex.EncodeToString(resp.ContentMD5)})
	}
	return transfer.NewReader(ctx, transfer.MapReadErrors(r, func(err error) error {
		return mapErr("Read", cont, name, err, storage.ErrObjectNotFound)
	}), body, n, opts.Progress), nil
}

// rangeTotal reads the size after the slash of a Content-Range header.
func rangeTotal(cr string) (int64, bool) {
	var a, b, total int64
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &total); err == nil {
		return total, true
	}
	if _, err := fmt.Sscanf(cr, "bytes */%d", &total); err == nil {
		return total, true
	}
	return 0, false
}

// DownloadObject writes a blob to a file: in one GET up to the part size,
// else in ranges fetched concurrently and pinned to the ETag, the whole
// checked against the Content-MD5 as the bytes land.
func (d *Driver) DownloadObject(ctx context.Context, o *storage.Object, destPath string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	if err := storage.ValidateObject(o); err != nil {
		return opError(op, "", "", nil, err)
	}
	if opts == nil {
		opts = &storage.DownloadOptions{}
	}
	cont, name := o.Container.Name, o.Name
	dest, err := transfer.DestinationPath(destPath, name)
	if err != nil {
		return opError(op, cont, name, nil, err)
	}
	if err := checkContainerName(cont); err != nil {
		return opError(op, cont, name, err, nil)
	}
	if err := checkBlobName(name); err != nil {
		return opError(op, cont, name, err, nil)
	}
	// A download pinned to one version starts again if the object is
	// replaced meanwhile.
	err = transfer.DownloadFile(dest, opts.Overwrite, func(f *transfer.File) error {
		return d.downloadTo(ctx, f, cont, name, opts)
	})
	return mapErr(op, cont, name, err, nil)
}

func (d *Driver) downloadTo(ctx context.Context, f *transfer.File, cont, name string, opts *storage.DownloadOptions) error {
	const op = "DownloadObject"
	props, err := d.properties(ctx, op, cont, name)
	if err != nil {
		return err
	}
	size := deref(props.ContentLength)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, size) }
	}
	bc := d.containerClient(cont).NewBlobClient(name)
	if size <= d.partSize {
		// One GET is one version: no pinning, which a blob rewritten
		// often would fail again and again; checked as it streams.
		resp, err := bc.DownloadStream(ctx, nil)
		if err != nil {
			return d.whichMissing(ctx, op, cont, name, mapErr(op, cont, name, err, storage.ErrObjectNotFound))
		}
		body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 5})
		defer body.Close()
		var want transfer.Want
		if !opts.SkipHashCheck {
			want.MD5 = hex.EncodeToString(resp.ContentMD5)
		}
		if err := f.Truncate(0); err != nil {
			return opError(op, cont, name, nil, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return opError(op, cont, name, nil, err)
		}
		_, err = transfer.Copy(ctx, f, transfer.NewVerifyingReader(body, deref(resp.ContentLength), want), progress)
		return mapErr(op, cont, name, err, storage.ErrObjectNotFound)
	}
	etag := props.ETag
	var want transfer.Want
	if !opts.SkipHashCheck {
		want.MD5 = hex.EncodeToString(props.ContentMD5)
	}
	fetch := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		resp, err := bc.DownloadStream(ctx, &blob.DownloadStreamOptions{
			Range:            blob.HTTPRange{Offset: off, Count: n},
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: etag}},
		})
		if err != nil {
			if bloberror.HasCode(err, bloberror.ConditionNotMet) {
				return 0, fmt.Errorf("%w: %w", transfer.ErrReplaced, redact(err))
			}
			return 0, err
		}
		body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 5})
		defer body.Close()
		return transfer.Copy(ctx, w, body, nil)
	}
	err = transfer.RangeDownload{
		Size: size, Chunk: d.partSize, Workers: d.concurrency,
		Fetch: fetch, Want: want, Progress: progress,
	}.Run(ctx, f)
	return mapErr(op, cont, name, err, storage.ErrObjectNotFound)
}
