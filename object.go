package storage

import (
	"context"
	"fmt"
	"io"
	"iter"
	"time"
)

// Object is a stored object's attributes; its methods delegate to the
// driver of its container.
type Object struct {
	// Name is the object's full name within its container.
	Name string
	// Size is the content's length in bytes.
	Size int64
	// Hash is the lowercase hex MD5 of the content when the provider knows
	// it, else empty (as for S3 multipart uploads).
	Hash string
	// ETag is the provider's version tag, used by conditional requests.
	ETag string
	// ContentType is the object's MIME type.
	ContentType string
	// Metadata is the user metadata, with lower-case keys.
	Metadata map[string]string
	// ModTime is when the object was last written.
	ModTime time.Time
	// IsPrefix marks an entry of a delimited listing that stands for every
	// name starting with Name; it has no content.
	IsPrefix bool
	// Extra holds provider-specific attributes, documented by each driver.
	Extra map[string]any
	// Container is the container holding the object.
	Container *Container
}

// NewObject returns an object named name in container c. Drivers use it to
// build the objects they return.
func NewObject(c *Container, name string) *Object {
	return &Object{Name: name, Container: c}
}

// Driver returns the driver of the object's container, or nil.
func (o *Object) Driver() Driver {
	if o == nil || o.Container == nil {
		return nil
	}
	return o.Container.driver
}

// Download writes the object to the file destPath.
func (o *Object) Download(ctx context.Context, destPath string, opts *DownloadOptions) error {
	if err := ValidateObject(o); err != nil {
		return err
	}
	return o.Driver().DownloadObject(ctx, o, destPath, opts)
}

// AsStream returns a reader of the object's content.
func (o *Object) AsStream(ctx context.Context, opts *StreamOptions) (io.ReadCloser, error) {
	if err := ValidateObject(o); err != nil {
		return nil, err
	}
	return o.Driver().DownloadObjectAsStream(ctx, o, opts)
}

// Delete deletes the object.
func (o *Object) Delete(ctx context.Context) error {
	if err := ValidateObject(o); err != nil {
		return err
	}
	return o.Driver().DeleteObject(ctx, o)
}

// Chunks returns an iterator over the object's content in chunks of size
// bytes (the last may be shorter), the Go form of Libcloud's generator. The
// whole object is hash-checked unless it cannot be: a mismatch is yielded
// as the final error. Each chunk is only valid until the next iteration,
// since its buffer is reused; copy it to keep it.
func (o *Object) Chunks(ctx context.Context, size int) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if size <= 0 {
			yield(nil, fmt.Errorf("%w: chunk size %d", ErrInvalidArgument, size))
			return
		}
		r, err := o.AsStream(ctx, &StreamOptions{ChunkSize: size})
		if err != nil {
			yield(nil, err)
			return
		}
		defer r.Close()
		buf := make([]byte, size)
		for {
			n, err := io.ReadFull(r, buf)
			if n > 0 && !yield(buf[:n], nil) {
				return
			}
			switch err {
			case nil:
			case io.EOF, io.ErrUnexpectedEOF:
				return
			default:
				yield(nil, err)
				return
			}
		}
	}
}
