package local_test

import (
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/local"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver {
			d, err := local.New(local.Options{Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}
