package s3_test

import (
	"context"
	"os"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/testserver"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// newDriver returns a driver for the test binary's versitygw, with small
// parts so that multipart paths run on modest objects.
func newDriver(t testing.TB, opts s3.Options) *s3.Driver {
	t.Helper()
	srv := testserver.VersityGW(t)
	opts.Endpoint = srv.Endpoint
	opts.Region = srv.Region
	opts.AccessKeyID = srv.AccessKey
	opts.SecretAccessKey = srv.SecretKey
	d, err := s3.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver { return newDriver(t, s3.Options{PartSize: 5 << 20}) },
	})
}
