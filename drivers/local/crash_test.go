package local_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/local"
)

// endless yields bytes slowly, forever: a writer that will be killed.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n > 2<<20 {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range p {
		p[i] = byte(e.n + i)
	}
	e.n += len(p)
	return len(p), nil
}

// crashChild is the process the test kills: it writes the object named in
// STOWAGE_CRASH_NAME under the root in STOWAGE_CRASH_ROOT, never ending.
func crashChild() {
	d, err := local.New(local.Options{Root: os.Getenv("STOWAGE_CRASH_ROOT")})
	if err != nil {
		os.Exit(2)
	}
	c := storage.NewContainer(d, "c")
	_, _ = c.UploadObjectViaStream(context.Background(), &endless{}, os.Getenv("STOWAGE_CRASH_NAME"), nil)
	os.Exit(3)
}

// A process killed with SIGKILL while writing an object leaves the old
// object whole, or none; its temporary file goes the next time the root is
// opened once no writer holds it.
func TestKilledWriterLeavesOldOrNothing(t *testing.T) {
	if os.Getenv("STOWAGE_CRASH_ROOT") != "" {
		crashChild()
		return
	}
	ctx := context.Background()
	root := t.TempDir()
	d, err := local.New(local.Options{Root: root})
	require.NoError(t, err)
	c, err := d.CreateContainer(ctx, "c")
	require.NoError(t, err)
	_, err = c.UploadObjectViaStream(ctx, strings.NewReader("the old content"), "existing", nil)
	require.NoError(t, err)
	tmpDir := filepath.Join(root, ".stowage-tmp")

	for _, name := range []string{"existing", "dir/new"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesOldOrNothing$")
		cmd.Env = append(os.Environ(), "STOWAGE_CRASH_ROOT="+root, "STOWAGE_CRASH_NAME="+name)
		require.NoError(t, cmd.Start())
		// Kill it once its temporary file holds over 2 MiB.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if entries, _ := os.ReadDir(tmpDir); len(entries) > 0 {
				if fi, err := entries[0].Info(); err == nil && fi.Size() > 2<<20 {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		o, err := c.GetObject(ctx, name)
		if name == "existing" {
			require.NoError(t, err)
			r, err := o.AsStream(ctx, nil)
			require.NoError(t, err)
			b, err := io.ReadAll(r)
			r.Close()
			require.NoError(t, err, "the old object must read whole and verified")
			assert.Equal(t, "the old content", string(b))
		} else {
			assert.ErrorIs(t, err, storage.ErrObjectNotFound, "a killed write of a new name left an object")
		}
		entries, _ := os.ReadDir(tmpDir)
		require.Len(t, entries, 1, "the killed writer's temporary file")

		// Reopened at once, the recent file is left (it might be a live
		// writer's); once older, and unlocked since its writer died, it
		// goes.
		d2, err := local.New(local.Options{Root: root})
		require.NoError(t, err)
		d2.Close()
		entries, _ = os.ReadDir(tmpDir)
		require.Len(t, entries, 1)
		old := time.Now().Add(-time.Minute)
		require.NoError(t, os.Chtimes(filepath.Join(tmpDir, entries[0].Name()), old, old))
		d3, err := local.New(local.Options{Root: root})
		require.NoError(t, err)
		d3.Close()
		entries, _ = os.ReadDir(tmpDir)
		assert.Empty(t, entries, "the abandoned temporary file was not removed")
	}
}
