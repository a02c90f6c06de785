package observe

import (
	"context"
	"fmt"
	"io"

	"github.com/stowage/storage"
)

// errNoDriver is what every call of a wrapper of nil returns.
var errNoDriver = fmt.Errorf("%w: observe.Wrap was given a nil driver", storage.ErrInvalidArgument)

// missing stands for the nil driver Wrap may be given: every call fails
// with a clear error instead of panicking.
type missing struct{}

func (missing) ListContainers(context.Context) *storage.LazyList[*storage.Container] {
	return storage.NewErrorList[*storage.Container](errNoDriver)
}

func (missing) ListContainerObjects(context.Context, *storage.Container, *storage.ListOptions) *storage.LazyList[*storage.Object] {
	return storage.NewErrorList[*storage.Object](errNoDriver)
}

func (missing) GetContainer(context.Context, string) (*storage.Container, error) {
	return nil, errNoDriver
}

func (missing) GetObject(context.Context, string, string) (*storage.Object, error) {
	return nil, errNoDriver
}

func (missing) CreateContainer(context.Context, string) (*storage.Container, error) {
	return nil, errNoDriver
}

func (missing) UploadObject(context.Context, string, *storage.Container, string, *storage.UploadOptions) (*storage.Object, error) {
	return nil, errNoDriver
}

func (missing) UploadObjectViaStream(context.Context, io.Reader, *storage.Container, string, *storage.UploadOptions) (*storage.Object, error) {
	return nil, errNoDriver
}

func (missing) DownloadObject(context.Context, *storage.Object, string, *storage.DownloadOptions) error {
	return errNoDriver
}

func (missing) DownloadObjectAsStream(context.Context, *storage.Object, *storage.StreamOptions) (io.ReadCloser, error) {
	return nil, errNoDriver
}

func (missing) DeleteContainer(context.Context, *storage.Container) error { return errNoDriver }
func (missing) DeleteObject(context.Context, *storage.Object) error       { return errNoDriver }
func (missing) Close() error                                              { return nil }
