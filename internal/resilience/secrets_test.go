package resilience

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/testserver"
	"github.com/stowage/storage/observe"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The whole conformance suite runs on each cloud driver with credentials
// that are easy to spot, every call logged with its error; no credential
// may appear in any record.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	ctx := context.Background()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wrap := func(d storage.Driver) storage.Driver { return observe.Wrap(d, observe.Options{Logger: logger}) }
	var secrets []string

	s3srv := testserver.VersityGW(t)
	secrets = append(secrets, s3srv.SecretKey)
	t.Run("s3", func(t *testing.T) {
		drivertest.Run(t, drivertest.Harness{New: func(t *testing.T) storage.Driver {
			d, err := s3.New(ctx, s3.Options{Endpoint: s3srv.Endpoint, Region: s3srv.Region,
				AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey, PartSize: 5 << 20})
			require.NoError(t, err)
			return wrap(d)
		}})
	})

	gsrv := testserver.FakeGCS(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 40 {
			secrets = append(secrets, line)
		}
	}
	t.Run("gcs", func(t *testing.T) {
		drivertest.Run(t, drivertest.Harness{
			New: func(t *testing.T) storage.Driver {
				d, err := gcs.New(ctx, gcs.Options{Endpoint: gsrv.Endpoint, ProjectID: gsrv.Project, ChunkSize: 4 << 20,
					SignerEmail: "secret-test@example.iam.gserviceaccount.com", SignerKey: keyPEM})
				require.NoError(t, err)
				return wrap(d)
			},
			NoMultiByteDelimiter: "fake-gcs-server", UncheckedSignatures: "fake-gcs-server",
		})
	})

	asrv := testserver.Azurite(t)
	secrets = append(secrets, asrv.Key)
	t.Run("azure", func(t *testing.T) {
		drivertest.Run(t, drivertest.Harness{
			New: func(t *testing.T) storage.Driver {
				d, err := azure.New(ctx, azure.Options{ServiceURL: asrv.ServiceURL, AccountName: asrv.Account,
					AccountKey: asrv.Key, BlockSize: 4 << 20})
				require.NoError(t, err)
				return wrap(d)
			},
			NoMultiByteDelimiter: "Azurite",
		})
	})
	// And a SAS token: reads work, writes are refused, errors are logged.
	t.Run("azure-sas", func(t *testing.T) {
		d, err := azure.New(ctx, azure.Options{ServiceURL: asrv.ServiceURL, AccountName: asrv.Account, AccountKey: asrv.Key})
		require.NoError(t, err)
		c, err := d.CreateContainer(ctx, "stowage-secrets-sas")
		require.NoError(t, err)
		defer c.Delete(ctx)
		u, err := d.Client().ServiceClient().GetSASURL(sas.AccountResourceTypes{Service: true, Container: true, Object: true},
			sas.AccountPermissions{Read: true, List: true}, time.Now().Add(time.Hour), nil)
		require.NoError(t, err)
		pu, err := url.Parse(u)
		require.NoError(t, err)
		sig := pu.Query().Get("sig")
		secrets = append(secrets, sig, url.QueryEscape(sig))
		ro, err := azure.New(ctx, azure.Options{ServiceURL: asrv.ServiceURL, SASToken: pu.RawQuery})
		require.NoError(t, err)
		w := wrap(ro)
		rc, err := w.GetContainer(ctx, c.Name)
		require.NoError(t, err)
		_, err = rc.UploadObjectViaStream(ctx, strings.NewReader("x"), "denied", nil)
		require.Error(t, err)
		_, err = rc.GetObject(ctx, "missing")
		require.Error(t, err)
		_, err = w.GetContainer(ctx, "stowage-missing-sas")
		require.Error(t, err)
	})

	out := logs.String()
	require.Greater(t, strings.Count(out, "\n"), 1000, "the suite was logged")
	require.Contains(t, out, `"level":"ERROR"`, "failing calls were logged")
	for _, s := range secrets {
		assert.NotContains(t, out, s, "a credential appeared in the logs")
	}
}
