package memory_test

import (
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/drivertest"
	"github.com/stowage/storage/drivers/memory"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) storage.Driver { return memory.New() },
	})
}
