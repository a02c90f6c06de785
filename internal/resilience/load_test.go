package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/drivers/local"
	"github.com/stowage/storage/drivers/memory"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/testserver"
)

// TestLoadAgainstModel runs 16 goroutines of 1,000 random operations each
// (upload, overwrite, download, range read, list, delete) on one container
// of every driver, each goroutine keeping a model of its own names; every
// read is checked against the model, and at the end the container must
// equal the models together.
func TestLoadAgainstModel(t *testing.T) {
	ctx := context.Background()
	drivers := []struct {
		name string
		open func(t *testing.T) storage.Driver
	}{
		{"memory", func(t *testing.T) storage.Driver { return memory.New() }},
		{"local", func(t *testing.T) storage.Driver {
			d, err := local.New(local.Options{Root: t.TempDir()})
			require.NoError(t, err)
			return d
		}},
		{"s3", func(t *testing.T) storage.Driver {
			srv := testserver.VersityGW(t)
			d, err := s3.New(ctx, s3.Options{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
			require.NoError(t, err)
			return d
		}},
		{"gcs", func(t *testing.T) storage.Driver {
			srv := testserver.FakeGCS(t)
			d, err := gcs.New(ctx, gcs.Options{Endpoint: srv.Endpoint, ProjectID: srv.Project})
			require.NoError(t, err)
			return d
		}},
		{"azure", func(t *testing.T) storage.Driver {
			srv := testserver.Azurite(t)
			d, err := azure.New(ctx, azure.Options{ServiceURL: srv.ServiceURL, AccountName: srv.Account, AccountKey: srv.Key})
			require.NoError(t, err)
			return d
		}},
	}
	const workers, ops = 16, 1000
	for _, dr := range drivers {
		t.Run(dr.name, func(t *testing.T) {
			d := dr.open(t)
			c := newContainer(t, d)
			models := make([]map[string][]byte, workers)
			counts := make([]map[string]int, workers)
			var wg sync.WaitGroup
			for g := range workers {
				models[g], counts[g] = map[string][]byte{}, map[string]int{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := worker(ctx, c, g, ops, models[g], counts[g]); err != nil {
						t.Errorf("worker %d: %v", g, err)
					}
				}()
			}
			wg.Wait()
			// The container equals the models.
			want := map[string][]byte{}
			for _, m := range models {
				for k, v := range m {
					want[k] = v
				}
			}
			objs, err := c.ListObjects(ctx, nil).Collect()
			require.NoError(t, err)
			var got []string
			for _, o := range objs {
				got = append(got, o.Name)
			}
			wantNames := make([]string, 0, len(want))
			for k := range want {
				wantNames = append(wantNames, k)
			}
			slices.Sort(wantNames)
			require.Equal(t, wantNames, got)
			for _, o := range objs {
				r, err := o.AsStream(ctx, nil)
				require.NoError(t, err)
				b, err := io.ReadAll(r)
				r.Close()
				require.NoError(t, err)
				assert.True(t, bytes.Equal(want[o.Name], b), "%s holds other bytes than last written", o.Name)
			}
			total := map[string]int{}
			for _, cnt := range counts {
				for k, v := range cnt {
					total[k] += v
				}
			}
			t.Logf("%s: %d operations %v; %d objects at the end", dr.name, workers*ops, total, len(objs))
		})
	}
}

// worker runs ops random operations on the names of its own, keeping
// model (name -> content) and counting operations by kind.
func worker(ctx context.Context, c *storage.Container, g, ops int, model map[string][]byte, count map[string]int) error {
	rng := mrand.New(mrand.NewPCG(uint64(g), 42))
	dir, err := os.MkdirTemp("", "stowage-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	prefix := fmt.Sprintf("g%02d/", g)
	for i := range ops {
		name := fmt.Sprintf("%sk%d", prefix, rng.IntN(8))
		want, exists := model[name]
		switch op := rng.IntN(6); op {
		case 0, 1: // upload, or overwrite when it exists
			data := make([]byte, rng.IntN(32<<10))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			if _, err := c.UploadObjectViaStream(ctx, bytes.NewReader(data), name, nil); err != nil {
				return fmt.Errorf("op %d upload %s: %w", i, name, err)
			}
			model[name] = data
			count[map[bool]string{true: "overwrite", false: "upload"}[exists]]++
		case 2: // download to a file
			count["download"]++
			dest := filepath.Join(dir, fmt.Sprint(i))
			err := storage.NewObject(c, name).Download(ctx, dest, nil)
			if !exists {
				if !errors.Is(err, storage.ErrObjectNotFound) {
					return fmt.Errorf("op %d download of deleted %s: %v", i, name, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("op %d download %s: %w", i, name, err)
			}
			b, err := os.ReadFile(dest)
			os.Remove(dest)
			if err != nil || !bytes.Equal(b, want) {
				return fmt.Errorf("op %d download %s: other bytes than last written (%v)", i, name, err)
			}
		case 3: // range read
			count["range"]++
			if !exists || len(want) == 0 {
				continue
			}
			off := rng.Int64N(int64(len(want)))
			n := 1 + rng.Int64N(int64(len(want))-off)
			r, err := storage.NewObject(c, name).AsStream(ctx, &storage.StreamOptions{Range: &storage.Range{Offset: off, Length: n}})
			if err != nil {
				return fmt.Errorf("op %d range %s: %w", i, name, err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(b, want[off:off+n]) {
				return fmt.Errorf("op %d range %s [%d,+%d): other bytes (%v)", i, name, off, n, err)
			}
		case 4: // list the own names
			count["list"]++
			objs, err := c.ListObjects(ctx, &storage.ListOptions{Prefix: prefix, PageSize: 3}).Collect()
			if err != nil {
				return fmt.Errorf("op %d list: %w", i, err)
			}
			var got, names []string
			for _, o := range objs {
				got = append(got, o.Name)
			}
			for k := range model {
				names = append(names, k)
			}
			slices.Sort(names)
			if strings.Join(got, ",") != strings.Join(names, ",") {
				return fmt.Errorf("op %d list: %v, model %v", i, got, names)
			}
		case 5: // delete
			count["delete"]++
			err := storage.NewObject(c, name).Delete(ctx)
			if !exists {
				if !errors.Is(err, storage.ErrObjectNotFound) {
					return fmt.Errorf("op %d delete of absent %s: %v", i, name, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("op %d delete %s: %w", i, name, err)
			}
			delete(model, name)
		}
	}
	return nil
}
