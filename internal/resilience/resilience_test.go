package resilience

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/faultproxy"
	"github.com/stowage/storage/internal/testkit"
	"github.com/stowage/storage/internal/testserver"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// backend opens a driver whose requests go through a fault proxy in front
// of a real test server.
type backend struct {
	name string
	open func(t *testing.T) (storage.Driver, *faultproxy.Proxy)
}

func proxyTo(t *testing.T, target string, rewriteHost bool) *faultproxy.Proxy {
	p, err := faultproxy.Start(target, faultproxy.Options{RewriteHost: rewriteHost})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

var backends = []backend{
	{"s3", func(t *testing.T) (storage.Driver, *faultproxy.Proxy) {
		srv := testserver.VersityGW(t)
		p := proxyTo(t, srv.Endpoint, false) // SigV4 signs the Host
		d, err := s3.New(context.Background(), s3.Options{Endpoint: p.URL, Region: srv.Region,
			AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PartSize: 8 << 20})
		require.NoError(t, err)
		return d, p
	}},
	{"gcs", func(t *testing.T) (storage.Driver, *faultproxy.Proxy) {
		srv := testserver.FakeGCS(t)
		p := proxyTo(t, srv.URL, true) // the emulator routes by its own host
		d, err := gcs.New(context.Background(), gcs.Options{Endpoint: p.URL + "/storage/v1/", ProjectID: srv.Project,
			PartSize: 16 << 20})
		require.NoError(t, err)
		return d, p
	}},
	{"azure", func(t *testing.T) (storage.Driver, *faultproxy.Proxy) {
		srv := testserver.Azurite(t)
		p := proxyTo(t, strings.TrimSuffix(srv.ServiceURL, "/"+srv.Account), false)
		d, err := azure.New(context.Background(), azure.Options{ServiceURL: p.URL + "/" + srv.Account,
			AccountName: srv.Account, AccountKey: srv.Key, PartSize: 16 << 20})
		require.NoError(t, err)
		return d, p
	}},
}

// patternMD5 is the MD5 of testkit.NewStream(n, seed)'s bytes.
func patternMD5(n, seed uint64) string {
	st := testkit.NewStream(int64(n), seed)
	_, _ = io.Copy(io.Discard, st)
	return st.MD5()
}

func newContainer(t *testing.T, d storage.Driver) *storage.Container {
	return testkit.NewContainer(t, d, "stowage-res")
}

// A 256 MiB download through a proxy that resets the connection every
// 16 MiB finishes, verified, having asked again only for what it missed.
func TestDownloadResumesAfterResets(t *testing.T) {
	const size = 256 << 20
	want := patternMD5(size, 1)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, p := b.open(t)
			c := newContainer(t, d)
			_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(int64(size), 1), "big", nil)
			require.NoError(t, err)
			o, err := c.GetObject(ctx, "big")
			require.NoError(t, err)

			for _, mode := range []string{"file", "stream"} {
				before := p.Stats()
				p.ResetEvery(16 << 20)
				var got string
				if mode == "file" {
					dest := filepath.Join(t.TempDir(), "big")
					require.NoError(t, o.Download(ctx, dest, nil), mode)
					f, err := os.Open(dest)
					require.NoError(t, err)
					h := md5.New()
					_, err = io.Copy(h, f)
					f.Close()
					require.NoError(t, err)
					got = hex.EncodeToString(h.Sum(nil))
				} else {
					r, err := o.AsStream(ctx, nil)
					require.NoError(t, err)
					h := md5.New()
					_, err = io.Copy(h, r)
					r.Close()
					require.NoError(t, err, mode)
					got = hex.EncodeToString(h.Sum(nil))
				}
				p.ResetEvery(0)
				after := p.Stats()
				resets := after.Resets - before.Resets
				served := after.ResponseBytes - before.ResponseBytes
				assert.Equal(t, want, got, mode)
				assert.GreaterOrEqual(t, resets, int64(12), "%s: resets met", mode)
				// Resuming asks only for the rest. What the proxy wrote also
				// counts what was in the socket buffers when it reset (a few
				// MiB a reset on loopback): well under 1.5 times the object,
				// where starting over would never finish.
				assert.Less(t, served, int64(size)*3/2, "%s: %d bytes served for %d", mode, served, size)
				t.Logf("%s %s: %d resets, %.1f MiB served for 256 MiB", b.name, mode, resets, float64(served)/(1<<20))
			}
		})
	}
}

// A byte flipped in a download is caught and never left at the
// destination; one flipped in an upload is refused by the server's own
// check of the checksum sent.
func TestCorruptionIsCaught(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, p := b.open(t)
			c := newContainer(t, d)
			for _, size := range []uint64{100_000, 40 << 20} {
				name := fmt.Sprintf("obj-%d", size)
				_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(int64(size), 1), name, nil)
				require.NoError(t, err)
				o, err := c.GetObject(ctx, name)
				require.NoError(t, err)
				onData := func(r *http.Request) bool {
					return r.Method == http.MethodGet && strings.Contains(r.URL.Path, name)
				}
				p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
					f := faultproxy.None
					if onData(r) && r.Header.Get("Range") == "" || onData(r) && strings.HasPrefix(r.Header.Get("Range"), "bytes=0-") {
						f.FlipResponseAt = 5000
					}
					return f
				})
				dir := t.TempDir()
				err = o.Download(ctx, filepath.Join(dir, "out"), nil)
				p.SetRule(nil)
				assert.ErrorIs(t, err, storage.ErrHashMismatch, "%s size %d", b.name, size)
				entries, _ := os.ReadDir(dir)
				assert.Empty(t, entries, "%s size %d: a corrupt download left a file", b.name, size)
			}
			// Uploads: a body byte of each data request flipped, past any
			// multipart/related header GCS puts before the data.
			p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
				f := faultproxy.None
				if (r.Method == http.MethodPut || r.Method == http.MethodPost) && (r.ContentLength > 1000 || r.ContentLength < 0) {
					f.FlipRequestAt = 50_000
				}
				return f
			})
			for _, size := range []uint64{100_000, 40 << 20} {
				if b.name == "gcs" && size > 100_000 {
					// fake-gcs-server hands out its own address for a
					// resumable upload's chunks, which thus bypass the proxy.
					continue
				}
				name := fmt.Sprintf("up-%d", size)
				_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(int64(size), 2), name, nil)
				assert.Error(t, err, "%s size %d: a corrupted upload was accepted", b.name, size)
				p.SetRule(nil)
				_, gerr := c.GetObject(ctx, name)
				assert.ErrorIs(t, gerr, storage.ErrObjectNotFound, "%s size %d: a corrupted upload left an object", b.name, size)
				p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
					f := faultproxy.None
					if (r.Method == http.MethodPut || r.Method == http.MethodPost) && (r.ContentLength > 1000 || r.ContentLength < 0) {
						f.FlipRequestAt = 50_000
					}
					return f
				})
			}
			p.SetRule(nil)
		})
	}
}

// Busy answers (500, 503) are retried: a transfer through a proxy that
// refuses one request in five still succeeds, and only the refused
// requests are sent again.
func TestBusyServerIsRetried(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, p := b.open(t)
			c := newContainer(t, d)
			busy := faultproxy.None
			busy.Status = http.StatusServiceUnavailable
			broken := faultproxy.None
			broken.Status = http.StatusInternalServerError
			// One request in four refused, by turns 503 and 500.
			p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
				switch n % 8 {
				case 1:
					return busy
				case 5:
					return broken
				}
				return faultproxy.None
			})
			const size = 48 << 20
			before := p.Stats()
			o, err := c.UploadObjectViaStream(ctx, testkit.NewStream(int64(size), 3), "busy", nil)
			require.NoError(t, err)
			r, err := o.AsStream(ctx, nil)
			require.NoError(t, err)
			h := md5.New()
			_, err = io.Copy(h, r)
			r.Close()
			require.NoError(t, err)
			p.SetRule(nil)
			assert.Equal(t, patternMD5(size, 3), hex.EncodeToString(h.Sum(nil)))
			after := p.Stats()
			t.Logf("%s: %d requests, %d refused and retried", b.name, after.Requests-before.Requests, after.Faults-before.Faults)
			assert.Greater(t, after.Faults-before.Faults, int64(0))
		})
	}
}

// A deadline stops a transfer within a second, leaves nothing behind and
// no goroutine running.
func TestDeadlineStopsTransfers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			d, p := b.open(t)
			c := newContainer(t, d)
			stall := faultproxy.None
			stall.Stall = time.Minute

			// An upload whose requests hang: stopped by the deadline.
			p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
				if r.Method == http.MethodPut || r.Method == http.MethodPost {
					return stall
				}
				return faultproxy.None
			})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			start := time.Now()
			_, err := c.UploadObjectViaStream(ctx, testkit.NewStream(40<<20, 4), "stalled", nil)
			cancel()
			took := time.Since(start)
			p.SetRule(nil)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "error: %v", err)
			assert.Less(t, took, 1500*time.Millisecond, "the upload took %v to stop", took)
			_, gerr := c.GetObject(context.Background(), "stalled")
			assert.ErrorIs(t, gerr, storage.ErrObjectNotFound)

			// A download whose responses hang.
			_, err = c.UploadObjectViaStream(context.Background(), testkit.NewStream(20<<20, 5), "slow", nil)
			require.NoError(t, err)
			o, err := c.GetObject(context.Background(), "slow")
			require.NoError(t, err)
			p.SetRule(func(n int64, r *http.Request) faultproxy.Fault {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "slow") {
					return stall
				}
				return faultproxy.None
			})
			dir := t.TempDir()
			ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
			start = time.Now()
			err = o.Download(ctx, filepath.Join(dir, "slow"), nil)
			cancel()
			took = time.Since(start)
			p.SetRule(nil)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "error: %v", err)
			assert.Less(t, took, 1500*time.Millisecond, "the download took %v to stop", took)
			entries, _ := os.ReadDir(dir)
			assert.Empty(t, entries)

			// No goroutine of ours outlives the calls. (The HTTP clients'
			// idle keep-alive connections have goroutines of their own,
			// which are not leaks.)
			deadline := time.Now().Add(5 * time.Second)
			for ours() > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			assert.Zero(t, ours(), "goroutines of the library left running:\n%s", oursStacks())
		})
	}
}

// oursStacks returns the stacks of the goroutines running code of the
// library's drivers, other than the tests'.
func oursStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/stowage/storage/drivers/") && !strings.Contains(g, "resilience_test.go") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func ours() int {
	if s := oursStacks(); s != "" {
		return strings.Count(s, "goroutine ")
	}
	return 0
}
