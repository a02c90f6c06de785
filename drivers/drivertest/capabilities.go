package drivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
)

// testCapabilities checks each capability the driver claims, and that
// those it does not claim are refused with ErrNotSupported.
func (s *suite) testCapabilities(t *testing.T) {
	caps := storage.CapabilitiesOf(s.d)
	t.Logf("capabilities: %+v", caps)
	t.Run("Copy", func(t *testing.T) {
		t.Parallel()
		if !caps.Copy {
			c := s.newContainer(t)
			o := put(t, c, "src", []byte("x"), nil)
			_, err := storage.Copy(context.Background(), o, c, "dst", nil)
			assert.ErrorIs(t, err, storage.ErrNotSupported)
			return
		}
		s.testCopy(t)
	})
	t.Run("ConditionalWrite", func(t *testing.T) {
		t.Parallel()
		if !caps.ConditionalWrite {
			c := s.newContainer(t)
			_, err := c.UploadObjectViaStream(context.Background(), strings.NewReader("x"), "x", &storage.UploadOptions{IfNotExists: true})
			assert.ErrorIs(t, err, storage.ErrNotSupported)
			return
		}
		s.testConditionalWrite(t)
	})
	t.Run("SignedURL", func(t *testing.T) {
		t.Parallel()
		if !caps.SignedURL {
			c := s.newContainer(t)
			o := put(t, c, "x", []byte("x"), nil)
			_, err := storage.Sign(context.Background(), o, http.MethodGet, time.Minute)
			assert.ErrorIs(t, err, storage.ErrNotSupported)
			return
		}
		s.testSignedURL(t)
	})
}

func (s *suite) testCopy(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	other := s.newContainer(t)
	data := randomBytes(300_000)
	src := put(t, c, "dir/src.bin", data, &storage.UploadOptions{ContentType: "application/x-src", Metadata: map[string]string{"k": "v"}})

	cp, err := storage.Copy(ctx, src, c, "dir/copy.bin", nil)
	require.NoError(t, err)
	assert.Equal(t, "dir/copy.bin", cp.Name)
	got, err := c.GetObject(ctx, "dir/copy.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), got.Size)
	assert.Equal(t, "application/x-src", got.ContentType)
	assert.Equal(t, map[string]string{"k": "v"}, got.Metadata)
	assert.Equal(t, md5hex(data), md5hex(read(t, got, nil)))

	_, err = storage.Copy(ctx, src, other, "elsewhere", &storage.CopyOptions{ContentType: "text/plain", Metadata: map[string]string{"n": "2"}})
	require.NoError(t, err)
	got, err = other.GetObject(ctx, "elsewhere")
	require.NoError(t, err)
	assert.Equal(t, "text/plain", got.ContentType[:len("text/plain")])
	assert.Equal(t, map[string]string{"n": "2"}, got.Metadata)
	assert.Equal(t, md5hex(data), md5hex(read(t, got, nil)))
	// The source is untouched.
	assert.Equal(t, md5hex(data), md5hex(read(t, src, nil)))

	_, err = storage.Copy(ctx, storage.NewObject(c, "missing"), c, "x", nil)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	_, err = storage.Copy(ctx, src, storage.NewContainer(s.d, "stowage-test-missing-copy"), "x", nil)
	assert.ErrorIs(t, err, storage.ErrContainerNotFound)
	_, err = storage.Copy(ctx, src, c, "", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidName)
	_, err = storage.Copy(ctx, src, storage.NewContainer(otherDriver{s.d}, c.Name), "x", nil)
	assert.ErrorIs(t, err, storage.ErrNotSupported, "a copy between two drivers")
}

// otherDriver is another driver value, for copies between drivers.
type otherDriver struct{ storage.Driver }

func (s *suite) testConditionalWrite(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	_, err := c.UploadObjectViaStream(ctx, strings.NewReader("first"), "cond", &storage.UploadOptions{IfNotExists: true})
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("second"), "cond", &storage.UploadOptions{IfNotExists: true})
	assert.ErrorIs(t, err, storage.ErrPreconditionFailed)
	o, err := c.GetObject(ctx, "cond")
	require.NoError(t, err)
	assert.Equal(t, []byte("first"), read(t, o, nil), "a refused write changed the object")

	// IfMatch with the current ETag replaces; with an old one it fails.
	old := o.ETag
	require.NotEmpty(t, old)
	o2, err := c.UploadObjectViaStream(ctx, strings.NewReader("third"), "cond", &storage.UploadOptions{IfMatch: old})
	require.NoError(t, err)
	cur, err := c.GetObject(ctx, "cond")
	require.NoError(t, err)
	assert.NotEqual(t, old, cur.ETag, "a write makes a new ETag")
	if o2.ETag != "" {
		assert.Equal(t, cur.ETag, o2.ETag, "the upload returns the new ETag")
	}
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("fourth"), "cond", &storage.UploadOptions{IfMatch: old})
	assert.ErrorIs(t, err, storage.ErrPreconditionFailed)
	assert.Equal(t, []byte("third"), read(t, cur, nil))
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "absent", &storage.UploadOptions{IfMatch: old})
	assert.ErrorIs(t, err, storage.ErrPreconditionFailed)
	_, err = c.GetObject(ctx, "absent")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("x"), "x", &storage.UploadOptions{IfNotExists: true, IfMatch: old})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)

	// Large uploads (multipart, resumable, blocks) honour them too.
	big := randomBytes(17 << 20)
	_, err = c.UploadObjectViaStream(ctx, io.MultiReader(bytes.NewReader(big)), "cond", &storage.UploadOptions{IfNotExists: true})
	assert.ErrorIs(t, err, storage.ErrPreconditionFailed)
	_, err = c.UploadObjectViaStream(ctx, io.MultiReader(bytes.NewReader(big)), "big-new", &storage.UploadOptions{IfNotExists: true})
	require.NoError(t, err)

	// Of many writers racing to create one name, exactly one wins.
	const writers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, refused := 0, 0
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.UploadObjectViaStream(ctx, strings.NewReader(fmt.Sprint("writer ", i)), "race", &storage.UploadOptions{IfNotExists: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, storage.ErrPreconditionFailed):
				refused++
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Equal(t, writers-1, refused)
}

func (s *suite) testSignedURL(t *testing.T) {
	ctx := context.Background()
	c := s.newContainer(t)
	data := []byte("signed content")
	o := put(t, c, "signed/get.txt", data, nil)

	_, err := storage.Sign(ctx, o, http.MethodDelete, time.Minute)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = storage.Sign(ctx, o, http.MethodGet, 0)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)

	get, err := storage.Sign(ctx, o, http.MethodGet, 5*time.Minute)
	require.NoError(t, err)
	assert.True(t, get.Expires.After(time.Now()))
	resp := send(t, get, nil)
	assert.Equal(t, http.StatusOK, resp.code, "GET %s: %s", get.URL, resp.body)
	assert.Equal(t, data, resp.body)

	target := storage.NewObject(c, "signed/put.bin")
	put, err := storage.Sign(ctx, target, http.MethodPut, 5*time.Minute)
	require.NoError(t, err)
	body := randomBytes(100_000)
	resp = send(t, put, body)
	assert.Less(t, resp.code, 300, "PUT: %d %s", resp.code, resp.body)
	got, err := c.GetObject(ctx, "signed/put.bin")
	require.NoError(t, err)
	assert.Equal(t, md5hex(body), md5hex(read(t, got, &storage.StreamOptions{SkipHashCheck: true})))

	if s.h.UncheckedSignatures != "" {
		t.Logf("signatures not checked: %s", s.h.UncheckedSignatures)
		return
	}
	// A GET URL does not grant PUT.
	denied := &storage.SignedURL{Method: http.MethodPut, URL: get.URL, Header: get.Header}
	resp = send(t, denied, []byte("tampered"))
	assert.GreaterOrEqual(t, resp.code, 400, "a GET URL used to PUT")
	assert.Equal(t, data, read(t, o, nil))
}

type response struct {
	code int
	body []byte
}

// send makes the signed request with a plain net/http client.
func send(t *testing.T, s *storage.SignedURL, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(s.Method, s.URL, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range s.Header {
		req.Header[k] = v
	}
	if body == nil {
		req.Body = nil
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, b}
}
