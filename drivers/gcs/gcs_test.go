package gcs_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/internal/testserver"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// newDriver returns a driver for the test binary's fake-gcs-server.
func newDriver(t testing.TB, opts gcs.Options) *gcs.Driver {
	t.Helper()
	srv := testserver.FakeGCS(t)
	opts.Endpoint = srv.Endpoint
	opts.ProjectID = srv.Project
	d, err := gcs.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// signer is a service account key made for the tests, to sign URLs.
func signer(t testing.TB) (string, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	return "stowage-test@example.iam.gserviceaccount.com", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver {
			email, key := signer(t)
			return newDriver(t, gcs.Options{ChunkSize: 4 << 20, PartSize: 4 << 20, SignerEmail: email, SignerKey: key})
		},
		UncheckedSignatures: "fake-gcs-server v1.56.1 serves signed URLs without checking them",
		// fake-gcs-server v1.56.1 cuts a common prefix one byte after the
		// delimiter's start (fakestorage/object.go); GCS takes the whole.
		NoMultiByteDelimiter: "fake-gcs-server v1.56.1 cuts common prefixes one byte after the delimiter's start",
	})
}

func srvEndpoint(t testing.TB) string { return testserver.FakeGCS(t).Endpoint }
