package azure_test

import (
	"context"
	"os"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/internal/testserver"
)

func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }

// newDriver returns a driver for the test binary's Azurite.
func newDriver(t testing.TB, opts azure.Options) *azure.Driver {
	t.Helper()
	srv := testserver.Azurite(t)
	opts.ServiceURL = srv.ServiceURL
	opts.AccountName = srv.Account
	opts.AccountKey = srv.Key
	d, err := azure.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver {
			return newDriver(t, azure.Options{BlockSize: 4 << 20, PartSize: 4 << 20})
		},
		NoMultiByteDelimiter: "Azurite 3.37.0 cuts common prefixes one byte after the delimiter's start",
	})
}
