package observe_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/local"
	"github.com/stowage/storage/drivers/memory"
	"github.com/stowage/storage/observe"
)

// The wrapped drivers still pass the whole conformance suite, and each
// call is heard by the hooks.
func TestConformanceWrapped(t *testing.T) {
	var starts, ends atomic.Int64
	hooks := observe.Options{
		OnStart: func(ctx context.Context, c observe.Call) context.Context { starts.Add(1); return ctx },
		OnEnd:   func(ctx context.Context, c observe.Call, r observe.Result) { ends.Add(1) },
	}
	t.Run("memory", func(t *testing.T) {
		drivertest.Run(t, drivertest.Harness{New: func(t *testing.T) storage.Driver {
			return observe.Wrap(memory.New(), hooks)
		}})
	})
	t.Run("local", func(t *testing.T) {
		drivertest.Run(t, drivertest.Harness{New: func(t *testing.T) storage.Driver {
			d, err := local.New(local.Options{Root: t.TempDir()})
			require.NoError(t, err)
			return observe.Wrap(d, hooks)
		}})
	})
	assert.Greater(t, starts.Load(), int64(1000))
	assert.Equal(t, starts.Load(), ends.Load(), "every call that starts ends (streams are closed)")
}

// syncBuffer is a bytes.Buffer for concurrent loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogRecords(t *testing.T) {
	ctx := context.Background()
	var buf syncBuffer
	d := observe.Wrap(memory.New(), observe.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	c, err := d.CreateContainer(ctx, "logs")
	require.NoError(t, err)
	assert.Equal(t, storage.Driver(d), c.Driver(), "containers belong to the wrapper")
	o, err := c.UploadObjectViaStream(ctx, strings.NewReader("hello"), "greeting", &storage.UploadOptions{Metadata: map[string]string{"token": "s3cr3t"}})
	require.NoError(t, err)
	r, err := o.AsStream(ctx, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(r)
	r.Close()
	_, err = c.GetObject(ctx, "missing")
	require.Error(t, err)
	objs, err := c.ListObjects(ctx, nil).Collect()
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, storage.Driver(d), objs[0].Driver())

	out := buf.String()
	for _, want := range []string{`"op":"CreateContainer"`, `"op":"UploadObjectViaStream"`, `"bytes":5`,
		`"op":"DownloadObjectAsStream"`, `"op":"ListContainerObjects"`, `"level":"ERROR"`, `object not found`} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "s3cr3t", "options are not logged")
	assert.Equal(t, storage.CapabilitiesOf(memory.New()), storage.CapabilitiesOf(d))
	_, err = storage.Sign(ctx, o, "GET", 60e9)
	assert.True(t, errors.Is(err, storage.ErrNotSupported))
}

func TestWrapNil(t *testing.T) {
	ctx := context.Background()
	d := observe.Wrap(nil, observe.Options{})
	_, err := d.GetContainer(ctx, "x")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = d.ListContainers(ctx).Collect()
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.NoError(t, d.Close())
}
