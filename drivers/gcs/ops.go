package gcs

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/stowage/storage"
)

// ListContainers lists the project's buckets a page at a time.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewLazyList(ctx, "", func(ctx context.Context, token string) ([]*storage.Container, string, error) {
		if d.project == "" {
			return nil, "", opError("ListContainers", "", "", storage.ErrInvalidArgument, errors.New("listing buckets needs a project ID"))
		}
		var attrs []*gcs.BucketAttrs
		next, err := iterator.NewPager(d.client.Buckets(ctx, d.project), 1000, token).NextPage(&attrs)
		if err != nil {
			return nil, "", mapErr("ListContainers", "", "", err, nil)
		}
		cs := make([]*storage.Container, len(attrs))
		for i, a := range attrs {
			cs[i] = storage.NewContainer(d, a.Name)
			cs[i].Extra = map[string]any{"created": a.Created, "location": a.Location, "storage_class": a.StorageClass}
		}
		return cs, next, nil
	})
}

// GetContainer reads the bucket's attributes.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkBucketName(name); err != nil {
		return nil, opError("GetContainer", name, "", err, nil)
	}
	a, err := d.client.Bucket(name).Attrs(ctx)
	if err != nil {
		return nil, mapErr("GetContainer", name, "", err, storage.ErrContainerNotFound)
	}
	c := storage.NewContainer(d, name)
	c.Extra = map[string]any{"created": a.Created, "location": a.Location, "storage_class": a.StorageClass}
	return c, nil
}

// CreateContainer creates a bucket in the driver's project.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkBucketName(name); err != nil {
		return nil, opError("CreateContainer", name, "", err, nil)
	}
	if d.project == "" {
		return nil, opError("CreateContainer", name, "", storage.ErrInvalidArgument, errors.New("creating a bucket needs a project ID"))
	}
	if err := d.client.Bucket(name).Create(ctx, d.project, nil); err != nil {
		if isCode(err, http.StatusConflict) {
			return nil, opError("CreateContainer", name, "", storage.ErrContainerExists, err)
		}
		return nil, mapErr("CreateContainer", name, "", err, nil)
	}
	return storage.NewContainer(d, name), nil
}

func isCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// DeleteContainer deletes an empty bucket. GCS answers 409 for a bucket
// that still holds objects, fake-gcs-server 412.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	if err := storage.ValidateContainer(c); err != nil {
		return opError("DeleteContainer", "", "", nil, err)
	}
	if err := checkBucketName(c.Name); err != nil {
		return opError("DeleteContainer", c.Name, "", err, nil)
	}
	err := d.client.Bucket(c.Name).Delete(ctx)
	if isCode(err, http.StatusConflict) || isCode(err, http.StatusPreconditionFailed) {
		return opError("DeleteContainer", c.Name, "", storage.ErrContainerNotEmpty, err)
	}
	return mapErr("DeleteContainer", c.Name, "", err, storage.ErrContainerNotFound)
}

// GetObject reads an object's attributes.
func (d *Driver) GetObject(ctx context.Context, container, name string) (*storage.Object, error) {
	a, err := d.attrs(ctx, "GetObject", container, name)
	if err != nil {
		return nil, err
	}
	return d.object(storage.NewContainer(d, container), a), nil
}

// attrs reads an object's attributes, telling a missing bucket from a
// missing object.
func (d *Driver) attrs(ctx context.Context, op, bucket, name string) (*gcs.ObjectAttrs, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, opError(op, bucket, name, err, nil)
	}
	if err := checkObjectName(name); err != nil {
		return nil, opError(op, bucket, name, err, nil)
	}
	a, err := d.client.Bucket(bucket).Object(name).Attrs(ctx)
	if err != nil {
		return nil, d.whichMissing(ctx, op, bucket, name, mapErr(op, bucket, name, err, storage.ErrObjectNotFound))
	}
	return a, nil
}

// whichMissing turns ErrObjectNotFound into ErrContainerNotFound when the
// bucket is what is missing: GCS answers the same 404 for both.
func (d *Driver) whichMissing(ctx context.Context, op, bucket, name string, err error) error {
	if !errors.Is(err, storage.ErrObjectNotFound) {
		return err
	}
	if _, berr := d.client.Bucket(bucket).Attrs(ctx); errors.Is(berr, gcs.ErrBucketNotExist) {
		return opError(op, bucket, name, storage.ErrContainerNotFound, berr)
	}
	return err
}

func (d *Driver) object(c *storage.Container, a *gcs.ObjectAttrs) *storage.Object {
	o := storage.NewObject(c, a.Name)
	o.Size = a.Size
	if len(a.MD5) > 0 {
		o.Hash = hex.EncodeToString(a.MD5)
	}
	// The generation is the version tag conditional writes compare.
	o.ETag = strconv.FormatInt(a.Generation, 10)
	o.ContentType = a.ContentType
	o.ModTime = a.Updated
	if len(a.Metadata) > 0 {
		o.Metadata = lowerKeys(a.Metadata)
	}
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], a.CRC32C)
	o.Extra = map[string]any{
		"generation":    a.Generation,
		"crc32c":        hex.EncodeToString(crc[:]),
		"storage_class": a.StorageClass,
	}
	return o
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[toLower(k)] = v
	}
	return out
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// DeleteObject deletes an object.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	if err := storage.ValidateObject(o); err != nil {
		return opError("DeleteObject", "", "", nil, err)
	}
	bucket, name := o.Container.Name, o.Name
	if err := checkBucketName(bucket); err != nil {
		return opError("DeleteObject", bucket, name, err, nil)
	}
	if err := checkObjectName(name); err != nil {
		return opError("DeleteObject", bucket, name, err, nil)
	}
	err := d.client.Bucket(bucket).Object(name).Delete(ctx)
	if err != nil {
		return d.whichMissing(ctx, "DeleteObject", bucket, name, mapErr("DeleteObject", bucket, name, err, storage.ErrObjectNotFound))
	}
	return nil
}

// listedAttrs are the attributes object makes an Object of.
var listedAttrs = []string{"Name", "Size", "MD5", "CRC32C", "Generation", "ContentType", "Updated", "Metadata", "StorageClass"}

// ListContainerObjects lists through the SDK's iterator, a page at a time.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	if err := storage.ValidateContainer(c); err != nil {
		return storage.NewErrorList[*storage.Object](opError("ListContainerObjects", "", "", nil, err))
	}
	if opts == nil {
		opts = &storage.ListOptions{}
	}
	o := *opts
	pageSize := o.PageSize
	if pageSize <= 0 || pageSize > 1000 {
		pageSize = 1000
	}
	return storage.NewLazyList(ctx, o.StartToken, func(ctx context.Context, token string) ([]*storage.Object, string, error) {
		if err := checkBucketName(c.Name); err != nil {
			return nil, "", opError("ListContainerObjects", c.Name, "", err, nil)
		}
		q := &gcs.Query{Prefix: o.Prefix, Delimiter: o.Delimiter, Projection: gcs.ProjectionNoACL}
		// Only what an Object holds: a smaller answer to send and decode.
		if err := q.SetAttrSelection(listedAttrs); err != nil {
			return nil, "", opError("ListContainerObjects", c.Name, "", nil, err)
		}
		it := d.client.Bucket(c.Name).Objects(ctx, q)
		var attrs []*gcs.ObjectAttrs
		next, err := iterator.NewPager(it, pageSize, token).NextPage(&attrs)
		if err != nil {
			return nil, "", mapErr("ListContainerObjects", c.Name, "", err, storage.ErrContainerNotFound)
		}
		objs := make([]*storage.Object, len(attrs))
		for i, a := range attrs {
			if a.Prefix != "" {
				objs[i] = storage.NewObject(c, a.Prefix)
				objs[i].IsPrefix = true
				continue
			}
			objs[i] = d.object(c, a)
		}
		// A page holds its objects, then its prefixes: one order for both.
		slices.SortStableFunc(objs, func(a, b *storage.Object) int { return strings.Compare(a.Name, b.Name) })
		return objs, next, nil
	})
}
