package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	gcs "cloud.google.com/go/storage"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Capabilities reports copy, signed URLs (V4) and conditional writes
// (generation preconditions).
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Copy: true, SignedURL: true, ConditionalWrite: true}
}

// conditional applies an upload's conditions to an object handle: GCS
// checks them when it finalizes the upload. The ETag is the generation.
func conditional(obj *gcs.ObjectHandle, opts *storage.UploadOptions) (*gcs.ObjectHandle, error) {
	switch {
	case opts.IfNotExists:
		return obj.If(gcs.Conditions{DoesNotExist: true}), nil
	case opts.IfMatch != "":
		gen, err := strconv.ParseInt(opts.IfMatch, 10, 64)
		if err != nil || gen <= 0 {
			return nil, fmt.Errorf("%w: ETag %q is not a generation of this driver's", storage.ErrPreconditionFailed, opts.IfMatch)
		}
		return obj.If(gcs.Conditions{GenerationMatch: gen}), nil
	}
	return obj, nil
}

// CopyObject copies with GCS's rewrite, which the SDK's Copier repeats
// until done.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	const op = "CopyObject"
	if err := storage.ValidateObject(src); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := storage.ValidateContainer(dst); err != nil {
		return nil, opError(op, "", name, nil, err)
	}
	if err := checkBucketName(dst.Name); err != nil {
		return nil, opError(op, dst.Name, name, err, nil)
	}
	if err := checkObjectName(name); err != nil {
		return nil, opError(op, dst.Name, name, err, nil)
	}
	a, err := d.attrs(ctx, op, src.Container.Name, src.Name)
	if err != nil {
		return nil, err
	}
	cp := d.client.Bucket(dst.Name).Object(name).CopierFrom(d.client.Bucket(src.Container.Name).Object(src.Name).Generation(a.Generation))
	cp.ContentType, cp.Metadata = a.ContentType, a.Metadata
	if opts != nil {
		if opts.ContentType != "" {
			cp.ContentType = opts.ContentType
		}
		if opts.Metadata != nil {
			if cp.Metadata, err = transfer.Metadata(opts.Metadata); err != nil {
				return nil, opError(op, dst.Name, name, nil, err)
			}
		}
	}
	out, err := cp.Run(ctx)
	if err != nil {
		err = mapErr(op, dst.Name, name, err, storage.ErrContainerNotFound)
		if errors.Is(err, storage.ErrObjectNotFound) {
			err = opError(op, dst.Name, name, storage.ErrContainerNotFound, err)
		}
		return nil, err
	}
	return d.object(storage.NewContainer(d, dst.Name), out), nil
}

// Sign makes a V4 signed URL. Signing needs a service account's key: the
// one given in Options (SignerEmail, SignerKey), or the one the SDK finds
// in the client's credentials, or IAM's signBlob for other credentials.
func (d *Driver) Sign(ctx context.Context, o *storage.Object, method string, expiry time.Duration) (*storage.SignedURL, error) {
	const op = "Sign"
	if err := storage.ValidateObject(o); err != nil {
		return nil, opError(op, "", "", nil, err)
	}
	if err := checkBucketName(o.Container.Name); err != nil {
		return nil, opError(op, o.Container.Name, o.Name, err, nil)
	}
	if err := checkObjectName(o.Name); err != nil {
		return nil, opError(op, o.Container.Name, o.Name, err, nil)
	}
	expires := time.Now().Add(expiry)
	opts := &gcs.SignedURLOptions{
		Scheme:         gcs.SigningSchemeV4,
		Method:         method,
		Expires:        expires,
		GoogleAccessID: d.signerEmail,
		PrivateKey:     d.signerKey,
	}
	if d.endpoint != nil {
		// An emulator: sign for its host, over plain HTTP if it is.
		opts.Hostname = d.endpoint.Host
		opts.Insecure = d.endpoint.Scheme == "http"
	}
	u, err := d.client.Bucket(o.Container.Name).SignedURL(o.Name, opts)
	if err != nil {
		return nil, opError(op, o.Container.Name, o.Name, storage.ErrNotSupported, redact(err))
	}
	return &storage.SignedURL{Method: method, URL: u, Header: http.Header{}, Expires: expires}, nil
}

func parseEndpoint(s string) *url.URL {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	return u
}
