package s3

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Capabilities reports copy, signed URLs and conditional writes
// (If-None-Match and If-Match on PutObject and CompleteMultipartUpload).
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{Copy: true, SignedURL: true, ConditionalWrite: true}
}

// CopyObject copies with S3's CopyObject, up to S3's 5 GiB limit for one
// copy. With opts, the content type and metadata are replaced.
func (d *Driver) CopyObject(ctx context.Context, src *storage.Object, dst *storage.Container, name string, opts *storage.CopyOptions) (*storage.Object, error) {
	const op = "CopyObject"
	if err := storage.ValidateObject(src); err != nil {
		return nil, d.opError(op, "", name, nil, err)
	}
	if err := storage.ValidateContainer(dst); err != nil {
		return nil, d.opError(op, "", name, nil, err)
	}
	for _, b := range []string{src.Container.Name, dst.Name} {
		if err := checkBucketName(b); err != nil {
			return nil, d.opError(op, b, name, err, nil)
		}
	}
	if err := checkKey(name); err != nil {
		return nil, d.opError(op, dst.Name, name, err, nil)
	}
	in := &s3.CopyObjectInput{
		Bucket:     aws.String(dst.Name),
		Key:        aws.String(name),
		CopySource: aws.String(escapeCopySource(src.Container.Name + "/" + src.Name)),
	}
	if opts != nil && (opts.ContentType != "" || opts.Metadata != nil) {
		// REPLACE replaces both: what opts leaves out comes from the source.
		head, err := d.head(ctx, op, src.Container.Name, src.Name)
		if err != nil {
			return nil, err
		}
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.ContentType, in.Metadata = head.ContentType, head.Metadata
		if opts.ContentType != "" {
			in.ContentType = aws.String(opts.ContentType)
		}
		if opts.Metadata != nil {
			meta, err := transfer.Metadata(opts.Metadata)
			if err != nil {
				return nil, d.opError(op, dst.Name, name, nil, err)
			}
			in.Metadata = meta
		}
	}
	if _, err := d.client.CopyObject(ctx, in); err != nil {
		err = d.mapErr(op, dst.Name, name, err, storage.ErrObjectNotFound)
		if code(err) == "NoSuchKey" || isKind(err, storage.ErrObjectNotFound) {
			return nil, d.whichMissing(ctx, op, src.Container.Name, src.Name, err)
		}
		return nil, err
	}
	return d.GetObject(ctx, dst.Name, name)
}

func isKind(err error, kind error) bool {
	se, ok := err.(*storage.Error)
	return ok && se.Kind == kind
}

// escapeCopySource percent-encodes all but unreserved characters and "/",
// as x-amz-copy-source wants.
func escapeCopySource(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Sign presigns a GetObject or PutObject with SigV4 query authentication.
func (d *Driver) Sign(ctx context.Context, o *storage.Object, method string, expiry time.Duration) (*storage.SignedURL, error) {
	const op = "Sign"
	if err := storage.ValidateObject(o); err != nil {
		return nil, d.opError(op, "", "", nil, err)
	}
	if err := checkBucketName(o.Container.Name); err != nil {
		return nil, d.opError(op, o.Container.Name, o.Name, err, nil)
	}
	if err := checkKey(o.Name); err != nil {
		return nil, d.opError(op, o.Container.Name, o.Name, err, nil)
	}
	p := s3.NewPresignClient(d.client, s3.WithPresignExpires(expiry))
	var (
		req *signedRequest
		err error
	)
	switch method {
	case http.MethodGet:
		r, e := p.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Container.Name), Key: aws.String(o.Name)})
		if e == nil {
			req = &signedRequest{r.URL, r.Method, r.SignedHeader}
		}
		err = e
	case http.MethodPut:
		r, e := p.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(o.Container.Name), Key: aws.String(o.Name)})
		if e == nil {
			req = &signedRequest{r.URL, r.Method, r.SignedHeader}
		}
		err = e
	default:
		return nil, d.opError(op, o.Container.Name, o.Name, storage.ErrInvalidArgument, fmt.Errorf("method %q", method))
	}
	if err != nil {
		return nil, d.mapErr(op, o.Container.Name, o.Name, err, nil)
	}
	header := req.header.Clone()
	header.Del("Host") // net/http sends it from the URL
	return &storage.SignedURL{Method: req.method, URL: req.url, Header: header, Expires: time.Now().Add(expiry)}, nil
}

type signedRequest struct {
	url, method string
	header      http.Header
}
