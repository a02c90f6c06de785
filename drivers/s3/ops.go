package s3

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stowage/storage"
)

// ListContainers lists the account's buckets, following ListBuckets'
// continuation token.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewLazyList(ctx, "", func(ctx context.Context, token string) ([]*storage.Container, string, error) {
		in := &s3.ListBucketsInput{}
		if token != "" {
			in.ContinuationToken = aws.String(token)
		}
		out, err := d.client.ListBuckets(ctx, in)
		if err != nil {
			return nil, "", d.mapErr("ListContainers", "", "", err, nil)
		}
		cs := make([]*storage.Container, 0, len(out.Buckets))
		for _, b := range out.Buckets {
			c := storage.NewContainer(d, aws.ToString(b.Name))
			c.Extra = map[string]any{}
			if b.CreationDate != nil {
				c.Extra["created"] = *b.CreationDate
			}
			if b.BucketRegion != nil {
				c.Extra["region"] = *b.BucketRegion
			}
			cs = append(cs, c)
		}
		return cs, aws.ToString(out.ContinuationToken), nil
	})
}

// GetContainer checks that the bucket exists with HeadBucket.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkBucketName(name); err != nil {
		return nil, d.opError("GetContainer", name, "", err, nil)
	}
	out, err := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return nil, d.mapErr("GetContainer", name, "", err, storage.ErrContainerNotFound)
	}
	c := storage.NewContainer(d, name)
	if out.BucketRegion != nil {
		c.Extra = map[string]any{"region": *out.BucketRegion}
	}
	return c, nil
}

// CreateContainer creates a bucket in the driver's region.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkBucketName(name); err != nil {
		return nil, d.opError("CreateContainer", name, "", err, nil)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if d.region != "" && d.region != "us-east-1" && d.region != "auto" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(d.region),
		}
	}
	if _, err := d.client.CreateBucket(ctx, in); err != nil {
		return nil, d.mapErr("CreateContainer", name, "", err, nil)
	}
	return storage.NewContainer(d, name), nil
}

// DeleteContainer deletes an empty bucket.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	if err := storage.ValidateContainer(c); err != nil {
		return d.opError("DeleteContainer", "", "", nil, err)
	}
	if err := checkBucketName(c.Name); err != nil {
		return d.opError("DeleteContainer", c.Name, "", err, nil)
	}
	_, err := d.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(c.Name)})
	return d.mapErr("DeleteContainer", c.Name, "", err, storage.ErrContainerNotFound)
}

// GetObject returns an object's attributes from HeadObject.
func (d *Driver) GetObject(ctx context.Context, container, name string) (*storage.Object, error) {
	out, err := d.head(ctx, "GetObject", container, name)
	if err != nil {
		return nil, err
	}
	return d.objectFromHead(storage.NewContainer(d, container), name, out), nil
}

// head runs HeadObject, telling a missing bucket from a missing key: a
// HEAD's 404 has no body to say which, so the bucket is checked after.
func (d *Driver) head(ctx context.Context, op, bucket, key string, mode ...types.ChecksumMode) (*s3.HeadObjectOutput, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, d.opError(op, bucket, key, err, nil)
	}
	if err := checkKey(key); err != nil {
		return nil, d.opError(op, bucket, key, err, nil)
	}
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if len(mode) > 0 {
		in.ChecksumMode = mode[0]
	}
	out, err := d.client.HeadObject(ctx, in)
	if err != nil {
		return nil, d.whichMissing(ctx, op, bucket, key, d.mapErr(op, bucket, key, err, storage.ErrObjectNotFound))
	}
	return out, nil
}

// whichMissing turns ErrObjectNotFound into ErrContainerNotFound when it
// is the bucket that is missing: a HEAD's 404 cannot say which.
func (d *Driver) whichMissing(ctx context.Context, op, bucket, key string, err error) error {
	if !errors.Is(err, storage.ErrObjectNotFound) {
		return err
	}
	_, berr := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if berr != nil && kindOf(berr, storage.ErrContainerNotFound) == storage.ErrContainerNotFound {
		return d.opError(op, bucket, key, storage.ErrContainerNotFound, berr)
	}
	return err
}

func (d *Driver) objectFromHead(c *storage.Container, key string, out *s3.HeadObjectOutput) *storage.Object {
	o := storage.NewObject(c, key)
	o.Size = aws.ToInt64(out.ContentLength)
	o.ETag = aws.ToString(out.ETag)
	o.Hash = md5FromETag(o.ETag, string(out.ServerSideEncryption), aws.ToString(out.SSECustomerAlgorithm))
	o.ContentType = aws.ToString(out.ContentType)
	o.Metadata = lowerKeys(out.Metadata)
	if out.LastModified != nil {
		o.ModTime = *out.LastModified
	}
	o.Extra = map[string]any{}
	if out.StorageClass != "" {
		o.Extra["storage_class"] = string(out.StorageClass)
	}
	if out.VersionId != nil {
		o.Extra["version_id"] = *out.VersionId
	}
	return o
}

// md5FromETag returns the MD5 an ETag holds: a single-part upload's ETag is
// the content's MD5 unless the object is encrypted with KMS or a customer
// key. A multipart ETag ("…-N") is not an MD5.
func md5FromETag(etag, sse, sseCustomer string) string {
	e := strings.Trim(etag, `"`)
	if len(e) != 32 || strings.Trim(e, "0123456789abcdef") != "" {
		return ""
	}
	if strings.HasPrefix(sse, "aws:kms") || sseCustomer != "" {
		return ""
	}
	return e
}

func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// DeleteObject deletes an object after checking that it exists, since S3
// itself answers the same for a missing key.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	if err := storage.ValidateObject(o); err != nil {
		return d.opError("DeleteObject", "", "", nil, err)
	}
	if _, err := d.head(ctx, "DeleteObject", o.Container.Name, o.Name); err != nil {
		return err
	}
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(o.Container.Name), Key: aws.String(o.Name)})
	return d.mapErr("DeleteObject", o.Container.Name, o.Name, err, storage.ErrObjectNotFound)
}

// ListContainerObjects lists with ListObjectsV2, one request a page.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	if err := storage.ValidateContainer(c); err != nil {
		return storage.NewErrorList[*storage.Object](d.opError("ListContainerObjects", "", "", nil, err))
	}
	if opts == nil {
		opts = &storage.ListOptions{}
	}
	o := *opts
	return storage.NewLazyList(ctx, o.StartToken, func(ctx context.Context, token string) ([]*storage.Object, string, error) {
		if err := checkBucketName(c.Name); err != nil {
			return nil, "", d.opError("ListContainerObjects", c.Name, "", err, nil)
		}
		in := &s3.ListObjectsV2Input{Bucket: aws.String(c.Name)}
		if o.Prefix != "" {
			in.Prefix = aws.String(o.Prefix)
		}
		if o.Delimiter != "" {
			in.Delimiter = aws.String(o.Delimiter)
		}
		if o.PageSize > 0 {
			in.MaxKeys = aws.Int32(int32(min(o.PageSize, 1000)))
		}
		if token != "" {
			in.ContinuationToken = aws.String(token)
		}
		out, err := d.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, "", d.mapErr("ListContainerObjects", c.Name, "", err, storage.ErrContainerNotFound)
		}
		return mergeListing(c, out), aws.ToString(out.NextContinuationToken), nil
	})
}

// mergeListing returns a page's objects and common prefixes as one list in
// byte order, as S3 sorts them across the two.
func mergeListing(c *storage.Container, out *s3.ListObjectsV2Output) []*storage.Object {
	objs := make([]*storage.Object, 0, len(out.Contents)+len(out.CommonPrefixes))
	i, j := 0, 0
	for i < len(out.Contents) || j < len(out.CommonPrefixes) {
		if j == len(out.CommonPrefixes) ||
			i < len(out.Contents) && cmp.Less(aws.ToString(out.Contents[i].Key), aws.ToString(out.CommonPrefixes[j].Prefix)) {
			objs = append(objs, listedObject(c, out.Contents[i]))
			i++
			continue
		}
		p := storage.NewObject(c, aws.ToString(out.CommonPrefixes[j].Prefix))
		p.IsPrefix = true
		objs = append(objs, p)
		j++
	}
	return objs
}

func listedObject(c *storage.Container, obj types.Object) *storage.Object {
	o := storage.NewObject(c, aws.ToString(obj.Key))
	o.Size = aws.ToInt64(obj.Size)
	o.ETag = aws.ToString(obj.ETag)
	// A listing does not say how an object is encrypted; KMS is rare
	// enough that the ETag is taken as an MD5 when it has that form.
	o.Hash = md5FromETag(o.ETag, "", "")
	o.ModTime = aws.ToTime(obj.LastModified)
	if obj.StorageClass != "" {
		o.Extra = map[string]any{"storage_class": string(obj.StorageClass)}
	}
	return o
}

// now is the time an upload reports as the object's ModTime, since S3's
// answer to a PUT does not include it.
var now = time.Now
