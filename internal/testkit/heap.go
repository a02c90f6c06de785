package testkit

import (
	"context"
	"testing"

	"github.com/stowage/storage"
	"github.com/stowage/storage/internal/heapwatch"
)

// BenchStreamHeap uploads size bytes of unknown size into c each
// iteration and reports the live heap's peak growth beside bound, the
// driver's documented buffer bound.
func BenchStreamHeap(b *testing.B, c *storage.Container, size int64, bound uint64) {
	b.SetBytes(size)
	var worst uint64
	for b.Loop() {
		stop := heapwatch.Start()
		if _, err := c.UploadObjectViaStream(context.Background(), NewStream(size, 7), "stream", nil); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, stop())
	}
	b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(bound)/(1<<20), "bound-MiB")
}

// CheckStreamHeap uploads size bytes of unknown size into c and fails t
// if the live heap grew by more than bound meanwhile.
func CheckStreamHeap(t *testing.T, c *storage.Container, size int64, bound uint64) {
	t.Helper()
	stop := heapwatch.Start()
	o, err := c.UploadObjectViaStream(context.Background(), NewStream(size, 7), "stream", nil)
	grew := stop()
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != size {
		t.Fatalf("size %d", o.Size)
	}
	if grew > bound {
		t.Fatalf("a %d MiB stream grew the heap by %d MiB, over the %d MiB bound", size>>20, grew>>20, bound>>20)
	}
	t.Logf("heap grew %.1f MiB (bound %d MiB)", float64(grew)/(1<<20), bound>>20)
}
