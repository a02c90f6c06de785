package storage

import (
	"context"
	"io"
)

// Container is a bucket of objects: an S3 or GCS bucket, an Azure container,
// a folder of the local driver. Its methods delegate to the driver that made
// it.
type Container struct {
	// Name is the container's name.
	Name string
	// Extra holds provider-specific attributes (region, creation time, ...),
	// documented by each driver.
	Extra map[string]any

	driver Driver
}

// NewContainer returns a container of driver d. Drivers use it to build the
// containers they return.
func NewContainer(d Driver, name string) *Container {
	return &Container{Name: name, driver: d}
}

// Driver returns the driver the container belongs to.
func (c *Container) Driver() Driver { return c.driver }

// ListObjects lists the container's objects. See Driver.ListContainerObjects.
func (c *Container) ListObjects(ctx context.Context, opts *ListOptions) *LazyList[*Object] {
	if err := ValidateContainer(c); err != nil {
		return NewErrorList[*Object](err)
	}
	return c.driver.ListContainerObjects(ctx, c, opts)
}

// GetObject returns the named object of the container.
func (c *Container) GetObject(ctx context.Context, name string) (*Object, error) {
	if err := ValidateContainer(c); err != nil {
		return nil, err
	}
	return c.driver.GetObject(ctx, c.Name, name)
}

// UploadObject stores the file at filePath as the object name.
func (c *Container) UploadObject(ctx context.Context, filePath, name string, opts *UploadOptions) (*Object, error) {
	if err := ValidateContainer(c); err != nil {
		return nil, err
	}
	return c.driver.UploadObject(ctx, filePath, c, name, opts)
}

// UploadObjectViaStream stores what r yields as the object name.
func (c *Container) UploadObjectViaStream(ctx context.Context, r io.Reader, name string, opts *UploadOptions) (*Object, error) {
	if err := ValidateContainer(c); err != nil {
		return nil, err
	}
	return c.driver.UploadObjectViaStream(ctx, r, c, name, opts)
}

// DownloadObject writes o to the file destPath.
func (c *Container) DownloadObject(ctx context.Context, o *Object, destPath string, opts *DownloadOptions) error {
	if err := ValidateContainer(c); err != nil {
		return err
	}
	return c.driver.DownloadObject(ctx, o, destPath, opts)
}

// DownloadObjectAsStream returns a reader of o's content.
func (c *Container) DownloadObjectAsStream(ctx context.Context, o *Object, opts *StreamOptions) (io.ReadCloser, error) {
	if err := ValidateContainer(c); err != nil {
		return nil, err
	}
	return c.driver.DownloadObjectAsStream(ctx, o, opts)
}

// DeleteObject deletes o.
func (c *Container) DeleteObject(ctx context.Context, o *Object) error {
	if err := ValidateContainer(c); err != nil {
		return err
	}
	return c.driver.DeleteObject(ctx, o)
}

// Delete deletes the container, which must be empty.
func (c *Container) Delete(ctx context.Context) error {
	if err := ValidateContainer(c); err != nil {
		return err
	}
	return c.driver.DeleteContainer(ctx, c)
}
