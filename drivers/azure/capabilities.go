package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/stowage/storage"
)

// Capabilities reports copy, conditional writes, and signed URLs (SAS)
// when the driver holds an account key to sign them with.
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Copy: true, SignedURL: d.canSign, ConditionalWrite: true}
}

// accessConditions returns the If-None-Match or If-Match of a conditional
// write, which Azure checks when the blob is written or committed.
func accessConditions(opts *storage.UploadOptions) *blob.AccessConditions {
	switch {
	case opts.IfNotExists:
		return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
	case opts.IfMatch != "":
		return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(azcore.ETag(opts.IfMatch))}}
	}
	return nil
}

// precheck fails early when a conditional write cannot succeed, before
// blocks are staged for nothing; the commit checks again, atomically.
func (u *upload) precheck(ctx context.Context) error {
	if !u.opts.IfNotExists && u.opts.IfMatch == "" {
		return nil
	}
	props, err := u.d.containerClient(u.container).NewBlobClient(u.name).GetProperties(ctx, nil)
	exists := err == nil
	if err != nil && kindOf(err, storage.ErrObjectNotFound) != storage.ErrObjectNotFound {
		return u.fail(err)
	}
	switch {
	case u.opts.IfNotExists && exists:
		return opError(u.op, u.container, u.name, storage.ErrPreconditionFailed, errors.New("the blob exists"))
	case u.opts.IfMatch != "" && !exists:
		return opError(u.op, u.container, u.name, storage.ErrPreconditionFailed, errors.New("the blob does not exist"))
	case u.opts.IfMatch != "" && string(deref(props.ETag)) != u.opts.IfMatch:
		return opError(u.op, u.container, u.name, storage.ErrPreconditionFailed,
			fmt.Errorf("the blob's ETag is %s, not %s", deref(props.ETag), u.opts.IfMatch))
	}
	return nil
}

// CopyObject copies with Copy Blob within the account and waits for the
// copy to finish. With opts, the content type and metadata are replaced.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	const op = "CopyObject"
	if err := storage.ValidateObject(src); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := storage.ValidateContainer(dst); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := checkContainerName(dst.Name); err != nil {
		return nil, opError(op, dst.Name, name, err, nil)
	}
	if err := checkBlobName(name); err != nil {
		return nil, opError(op, dst.Name, name, err, nil)
	}
	props, err := d.properties(ctx, op, src.Container.Name, src.Name)
	if err != nil {
		return nil, err
	}
	var copyOpts blob.StartCopyFromURLOptions
	if opts != nil && opts.Metadata != nil {
		meta, err := checkMetadata(opts.Metadata)
		if err != nil {
			return nil, opError(op, dst.Name, name, nil, err)
		}
		copyOpts.Metadata = meta
		if copyOpts.Metadata == nil {
			copyOpts.Metadata = map[string]*string{}
		}
	}
	srcURL := d.containerClient(src.Container.Name).NewBlobClient(src.Name).URL()
	bc := d.containerClient(dst.Name).NewBlobClient(name)
	if _, err := bc.StartCopyFromURL(ctx, srcURL, &copyOpts); err != nil {
		err = mapErr(op, dst.Name, name, err, storage.ErrContainerNotFound)
		if errors.Is(err, storage.ErrObjectNotFound) {
			err = opError(op, dst.Name, name, storage.ErrContainerNotFound, err)
		}
		return nil, err
	}
	// Within an account the copy is usually done at once; else wait.
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		p, err := bc.GetProperties(ctx, nil)
		if err != nil {
			return nil, mapErr(op, dst.Name, name, err, storage.ErrObjectNotFound)
		}
		if p.CopyStatus == nil || *p.CopyStatus == blob.CopyStatusTypeSuccess {
			break
		}
		if *p.CopyStatus != blob.CopyStatusTypePending {
			return nil, opError(op, dst.Name, name, nil, fmt.Errorf("copy %s: %s", *p.CopyStatus, deref(p.CopyStatusDescription)))
		}
		select {
		case <-ctx.Done():
			_, _ = bc.AbortCopyFromURL(context.WithoutCancel(ctx), deref(p.CopyID), nil)
			return nil, opError(op, dst.Name, name, nil, ctx.Err())
		case <-time.After(delay):
		}
	}
	if opts != nil && opts.ContentType != "" {
		// Setting headers replaces them all: keep the MD5.
		if _, err := bc.SetHTTPHeaders(ctx, blob.HTTPHeaders{BlobContentType: &opts.ContentType, BlobContentMD5: props.ContentMD5}, nil); err != nil {
			return nil, mapErr(op, dst.Name, name, err, storage.ErrObjectNotFound)
		}
	}
	return d.GetObject(ctx, dst.Name, name)
}

// Sign makes a service SAS for one blob with the account key: read for
// GET; create and write for PUT, which must carry x-ms-blob-type.
func (d *Driver) Sign(ctx context.Context, o *storage.Object, method string, expiry time.Duration) (*storage.SignedURL, error) {
	const op = "Sign"
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError(op, "", "", nil, err)
	}
	if err := checkContainerName(o.Container.Name); err != nil {
		return nil, opError(op, o.Container.Name, o.Name, err, nil)
	}
	if err := checkBlobName(o.Name); err != nil {
		return nil, opError(op, o.Container.Name, o.Name, err, nil)
	}
	if !d.canSign {
		return nil, opError(op, o.Container.Name, o.Name, storage.ErrNotSupported, errors.New("signing a SAS needs the account key"))
	}
	var perms sas.BlobPermissions
	header := http.Header{}
	switch method {
	case http.MethodGet:
		perms.Read = true
	case http.MethodPut:
		perms.Create, perms.Write = true, true
		header.Set("x-ms-blob-type", "BlockBlob")
	default:
		return nil, opError(op, o.Container.Name, o.Name, storage.ErrInvalidArgument, fmt.Errorf("method %q", method))
	}
	expires := time.Now().Add(expiry)
	u, err := d.containerClient(o.Container.Name).NewBlobClient(o.Name).GetSASURL(perms, expires, nil)
	if err != nil {
		return nil, opError(op, o.Container.Name, o.Name, nil, redact(err))
	}
	return &storage.SignedURL{Method: method, URL: u, Header: header, Expires: expires}, nil
}
