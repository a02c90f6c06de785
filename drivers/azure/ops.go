package azure

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/stowage/storage"
)

// ListContainers lists the account's containers, following markers.
func (d *Driver) ListContainers(ctx context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewLazyList(ctx, "", func(ctx context.Context, token string) ([]*storage.Container, string, error) {
		opts := &service.ListContainersOptions{}
		if token != "" {
			opts.Marker = &token
		}
		resp, err := d.client.NewListContainersPager(opts).NextPage(ctx)
		if err != nil {
			return nil, "", mapErr("ListContainers", "", "", err, nil)
		}
		var cs []*storage.Container
		for _, item := range resp.ContainerItems {
			c := storage.NewContainer(d, deref(item.Name))
			if item.Properties != nil && item.Properties.LastModified != nil {
				c.Extra = map[string]any{"modified": *item.Properties.LastModified}
			}
			cs = append(cs, c)
		}
		return cs, deref(resp.NextMarker), nil
	})
}

func (d *Driver) containerClient(name string) *container.Client {
	return d.client.ServiceClient().NewContainerClient(name)
}

// GetContainer reads the container's properties.
func (d *Driver) GetContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkContainerName(name); err != nil {
		return nil, opError("GetContainer", name, "", err, nil)
	}
	props, err := d.containerClient(name).GetProperties(ctx, nil)
	if err != nil {
		return nil, mapErr("GetContainer", name, "", err, storage.ErrContainerNotFound)
	}
	c := storage.NewContainer(d, name)
	if props.LastModified != nil {
		c.Extra = map[string]any{"modified": *props.LastModified}
	}
	return c, nil
}

// CreateContainer creates a private container.
func (d *Driver) CreateContainer(ctx context.Context, name string) (*storage.Container, error) {
	if err := checkContainerName(name); err != nil {
		return nil, opError("CreateContainer", name, "", err, nil)
	}
	if _, err := d.containerClient(name).Create(ctx, nil); err != nil {
		return nil, mapErr("CreateContainer", name, "", err, nil)
	}
	return storage.NewContainer(d, name), nil
}

// DeleteContainer deletes the container if it holds no blob. Azure would
// delete a full one; the check before is a separate request.
func (d *Driver) DeleteContainer(ctx context.Context, c *storage.Container) error {
	if err := storage.ValidateContainer(c); err != nil {
		return opError("DeleteContainer", "", "", nil, err)
	}
	if err := checkContainerName(c.Name); err != nil {
		return opError("DeleteContainer", c.Name, "", err, nil)
	}
	cc := d.containerClient(c.Name)
	page, err := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: to.Ptr(int32(1))}).NextPage(ctx)
	if err != nil {
		return mapErr("DeleteContainer", c.Name, "", err, storage.ErrContainerNotFound)
	}
	if page.Segment != nil && len(page.Segment.BlobItems) > 0 {
		return opError("DeleteContainer", c.Name, "", storage.ErrContainerNotEmpty, nil)
	}
	_, err = cc.Delete(ctx, nil)
	return mapErr("DeleteContainer", c.Name, "", err, storage.ErrContainerNotFound)
}

// GetObject reads a blob's properties.
func (d *Driver) GetObject(ctx context.Context, containerName, name string) (*storage.Object, error) {
	props, err := d.properties(ctx, "GetObject", containerName, name)
	if err != nil {
		return nil, err
	}
	o := storage.NewObject(storage.NewContainer(d, containerName), name)
	o.Size = deref(props.ContentLength)
	o.Hash = hex.EncodeToString(props.ContentMD5)
	if props.ETag != nil {
		o.ETag = string(*props.ETag)
	}
	o.ContentType = deref(props.ContentType)
	o.Metadata = lowerMetadata(props.Metadata)
	if props.LastModified != nil {
		o.ModTime = *props.LastModified
	}
	if props.AccessTier != nil {
		o.Extra = map[string]any{"access_tier": *props.AccessTier}
	}
	return o, nil
}

// properties reads a blob's properties, telling a missing container from a
// missing blob: a HEAD's 404 carries the code only in a header.
func (d *Driver) properties(ctx context.Context, op, containerName, name string) (blob.GetPropertiesResponse, error) {
	if err := checkContainerName(containerName); err != nil {
		return blob.GetPropertiesResponse{}, opError(op, containerName, name, err, nil)
	}
	if err := checkBlobName(name); err != nil {
		return blob.GetPropertiesResponse{}, opError(op, containerName, name, err, nil)
	}
	props, err := d.containerClient(containerName).NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return props, d.whichMissing(ctx, op, containerName, name, mapErr(op, containerName, name, err, storage.ErrObjectNotFound))
	}
	return props, nil
}

// whichMissing turns ErrObjectNotFound into ErrContainerNotFound when the
// container is what is missing.
func (d *Driver) whichMissing(ctx context.Context, op, containerName, name string, err error) error {
	if !errors.Is(err, storage.ErrObjectNotFound) {
		return err
	}
	if _, cerr := d.containerClient(containerName).GetProperties(ctx, nil); cerr != nil &&
		kindOf(cerr, storage.ErrContainerNotFound) == storage.ErrContainerNotFound {
		return opError(op, containerName, name, storage.ErrContainerNotFound, redact(cerr))
	}
	return err
}

func lowerMetadata(m map[string]*string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = deref(v)
	}
	return out
}

// DeleteObject deletes a blob and its snapshots.
func (d *Driver) DeleteObject(ctx context.Context, o *storage.Object) error {
	if err := storage.ValidateObject(o); err != nil {
		return opError("DeleteObject", "", "", nil, err)
	}
	if err := checkContainerName(o.Container.Name); err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, err, nil)
	}
	if err := checkBlobName(o.Name); err != nil {
		return opError("DeleteObject", o.Container.Name, o.Name, err, nil)
	}
	_, err := d.containerClient(o.Container.Name).NewBlobClient(o.Name).Delete(ctx,
		&blob.DeleteOptions{DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude)})
	if err != nil {
		return d.whichMissing(ctx, "DeleteObject", o.Container.Name, o.Name,
			mapErr("DeleteObject", o.Container.Name, o.Name, err, storage.ErrObjectNotFound))
	}
	return nil
}

// ListContainerObjects lists through the SDK's pagers, one page a call,
// resuming from the marker Azure gives.
func (d *Driver) ListContainerObjects(ctx context.Context, c *storage.Container, opts *storage.ListOptions) *storage.LazyList[*storage.Object] {
	if err := storage.ValidateContainer(c); err != nil {
		return storage.NewErrorList[*storage.Object](opError("ListContainerObjects", "", "", nil, err))
	}
	if opts == nil {
		opts = &storage.ListOptions{}
	}
	o := *opts
	var maxResults *int32
	if o.PageSize > 0 {
		maxResults = to.Ptr(int32(min(o.PageSize, 5000)))
	}
	include := container.ListBlobsInclude{Metadata: false}
	return storage.NewLazyList(ctx, o.StartToken, func(ctx context.Context, token string) ([]*storage.Object, string, error) {
		if err := checkContainerName(c.Name); err != nil {
			return nil, "", opError("ListContainerObjects", c.Name, "", err, nil)
		}
		var marker *string
		if token != "" {
			marker = &token
		}
		var prefix *string
		if o.Prefix != "" {
			prefix = &o.Prefix
		}
		cc := d.containerClient(c.Name)
		var (
			items    []*container.BlobItem
			prefixes []*container.BlobPrefix
			next     *string
		)
		if o.Delimiter == "" {
			resp, err := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
				Prefix: prefix, Marker: marker, MaxResults: maxResults, Include: include,
			}).NextPage(ctx)
			if err != nil {
				return nil, "", mapErr("ListContainerObjects", c.Name, "", err, storage.ErrContainerNotFound)
			}
			if resp.Segment != nil {
				items = resp.Segment.BlobItems
			}
			next = resp.NextMarker
		} else {
			resp, err := cc.NewListBlobsHierarchyPager(o.Delimiter, &container.ListBlobsHierarchyOptions{
				Prefix: prefix, Marker: marker, MaxResults: maxResults, Include: include,
			}).NextPage(ctx)
			if err != nil {
				return nil, "", mapErr("ListContainerObjects", c.Name, "", err, storage.ErrContainerNotFound)
			}
			if resp.Segment != nil {
				items, prefixes = resp.Segment.BlobItems, resp.Segment.BlobPrefixes
			}
			next = resp.NextMarker
		}
		objs := make([]*storage.Object, 0, len(items)+len(prefixes))
		for _, it := range items {
			objs = append(objs, listedObject(c, it))
		}
		for _, p := range prefixes {
			po := storage.NewObject(c, deref(p.Name))
			po.IsPrefix = true
			objs = append(objs, po)
		}
		// One order for blobs and prefixes; see the package doc for the
		// order Azure itself uses beyond U+FFFF.
		slices.SortStableFunc(objs, func(a, b *storage.Object) int { return strings.Compare(a.Name, b.Name) })
		return objs, deref(next), nil
	})
}

func listedObject(c *storage.Container, it *container.BlobItem) *storage.Object {
	o := storage.NewObject(c, deref(it.Name))
	if p := it.Properties; p != nil {
		o.Size = deref(p.ContentLength)
		o.Hash = hex.EncodeToString(p.ContentMD5)
		if p.ETag != nil {
			o.ETag = string(*p.ETag)
		}
		o.ContentType = deref(p.ContentType)
		if p.LastModified != nil {
			o.ModTime = *p.LastModified
		}
	}
	return o
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
