package local_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
)

func TestAttributesAreOneXattr(t *testing.T) {
	ctx := context.Background()
	d, root := newDriver(t)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "f", &storage.UploadOptions{
		ContentType: "text/x-test", Metadata: map[string]string{"A": "b"},
	})
	require.NoError(t, err)
	buf := make([]byte, 1024)
	n, err := syscall.Getxattr(filepath.Join(root, "c", "f"), "user.stowage", buf)
	require.NoError(t, err)
	assert.Contains(t, string(buf[:n]), `"type":"text/x-test"`)
	assert.Contains(t, string(buf[:n]), `"meta":{"a":"b"}`)
	// Metadata too large for an extended attribute is refused whole.
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "big", &storage.UploadOptions{
		Metadata: map[string]string{"k": strings.Repeat("v", 70_000)},
	})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = c.GetObject(ctx, "big")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
}
