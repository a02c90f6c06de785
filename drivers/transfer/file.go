package transfer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/stowage/storage"
)

// tempSuffix ends the name of every temporary file this package makes, so
// leftovers of a killed process can be recognised.
const tempSuffix = ".stowage-tmp"

// File is a download in progress: a temporary file beside the destination
// that Commit moves into place once it is complete and synced. Until then
// the destination is untouched; Close without Commit removes the temporary
// file. Write fills it in order; WriteAt may be called from several
// goroutines at once.
type File struct {
	f         *os.File
	dest      string
	overwrite bool
	done      bool
	written   int64 // end of the sequential writes so far
	flushed   int64 // where the last writeback hint ended
}

// DestinationPath returns the file an object named objectName is downloaded
// to: destPath itself, or, when destPath ends in a path separator, the last
// segment of objectName inside that folder, as Libcloud does.
func DestinationPath(destPath, objectName string) (string, error) {
	if destPath == "" {
		return "", fmt.Errorf("%w: empty destination path", storage.ErrInvalidArgument)
	}
	if strings.ContainsRune(destPath, 0) {
		return "", fmt.Errorf("%w: destination path contains NUL", storage.ErrInvalidArgument)
	}
	if !os.IsPathSeparator(destPath[len(destPath)-1]) {
		return destPath, nil
	}
	base := path.Base(objectName)
	if base == "" || base == "." || base == ".." || base == "/" || strings.ContainsRune(base, 0) ||
		strings.ContainsRune(base, filepath.Separator) {
		return "", fmt.Errorf("%w: object name %q gives no file name in folder %q", storage.ErrInvalidArgument, objectName, destPath)
	}
	return filepath.Join(destPath, base), nil
}

// CreateFile starts a download to dest. Unless overwrite is set it fails
// with storage.ErrFileExists when dest exists; a dest that is a folder is
// never replaced.
func CreateFile(dest string, overwrite bool) (*File, error) {
	if dest == "" || strings.ContainsRune(dest, 0) {
		return nil, fmt.Errorf("%w: destination path %q", storage.ErrInvalidArgument, dest)
	}
	switch fi, err := os.Stat(dest); {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%w: destination %q is a folder", storage.ErrFileExists, dest)
	case err == nil && !overwrite:
		return nil, fmt.Errorf("%w: %q", storage.ErrFileExists, dest)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := createTemp(filepath.Dir(dest), "."+filepath.Base(dest))
	if err != nil {
		return nil, err
	}
	return &File{f: f, dest: dest, overwrite: overwrite}, nil
}

// createTemp makes a new file in dir whose name starts with prefix and ends
// with tempSuffix. Unlike os.CreateTemp it asks for mode 0666, so the
// finished file gets the permissions os.Create would give under the umask.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, TempName(prefix))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("transfer: no free temporary file name in %q", dir)
}

// TempName returns a new random file name starting with prefix, that
// IsTemp recognises.
func TempName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "." + hex.EncodeToString(b[:]) + tempSuffix
}

// IsTemp reports whether name (a file's base name) is one of the temporary
// files of this package, which a crash may leave behind.
func IsTemp(name string) bool {
	return strings.HasSuffix(name, tempSuffix)
}

// writebackEvery is how much sequential writing starts a writeback.
const writebackEvery = 8 << 20

// Write appends to the file.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	f.wrote(int64(n))
	return n, err
}

// WriteAt writes at an offset; it is safe for concurrent use. Callers
// writing ranges call StartWriteback for each range they finish.
func (f *File) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }

// ReadFrom lets io.Copy from an *os.File use the kernel's file-to-file copy.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	n, err := f.f.ReadFrom(r)
	f.wrote(n)
	return n, err
}

// wrote notes n more bytes written in sequence and starts writing them
// back every writebackEvery bytes.
func (f *File) wrote(n int64) {
	f.written += n
	if f.written-f.flushed >= writebackEvery {
		StartWriteback(f.f, f.flushed, f.written-f.flushed)
		f.flushed = f.written
	}
}

// StartWriteback hints that a range is complete: see the function of the
// same name.
func (f *File) StartWriteback(off, n int64) { StartWriteback(f.f, off, n) }

// Seek sets the offset of the next Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	pos, err := f.f.Seek(offset, whence)
	if err == nil {
		f.written, f.flushed = pos, pos
	}
	return pos, err
}

// Truncate sets the file's size, as before concurrent WriteAt calls.
func (f *File) Truncate(size int64) error { return f.f.Truncate(size) }

// Sync flushes what was written to the disk, as Commit does first; a caller
// may sync early to overlap the flush with other work.
func (f *File) Sync() error { return f.f.Sync() }

// Name returns the temporary file's path.
func (f *File) Name() string { return f.f.Name() }

// Path returns the destination.
func (f *File) Path() string { return f.dest }

// Commit syncs the file and moves it to the destination. Without overwrite
// it still fails with storage.ErrFileExists if another writer created the
// destination meanwhile. After a failed Commit nothing is left behind.
func (f *File) Commit() (err error) {
	if f.done {
		return errors.New("transfer: Commit of a file already committed or closed")
	}
	f.done = true
	tmp := f.f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.f.Sync(); err != nil {
		f.f.Close()
		return err
	}
	if err := f.f.Close(); err != nil {
		return err
	}
	if f.overwrite {
		if err := os.Rename(tmp, f.dest); err != nil {
			return err
		}
	} else {
		// A hard link fails if the destination appeared since CreateFile.
		switch err := os.Link(tmp, f.dest); {
		case err == nil:
			os.Remove(tmp)
		case errors.Is(err, fs.ErrExist):
			return fmt.Errorf("%w: %q", storage.ErrFileExists, f.dest)
		default:
			// No hard links on this file system: check, then rename.
			if _, err := os.Lstat(f.dest); err == nil {
				return fmt.Errorf("%w: %q", storage.ErrFileExists, f.dest)
			}
			if err := os.Rename(tmp, f.dest); err != nil {
				return err
			}
		}
	}
	return SyncDir(filepath.Dir(f.dest))
}

// Close removes the temporary file unless Commit moved it into place. It
// is safe to defer right after CreateFile.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	f.f.Close()
	return os.Remove(f.f.Name())
}

// SyncDir makes a rename or removal in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// ErrReplaced is what a download pinned to one version of an object (an
// ETag, a generation) fails with when the object is replaced meanwhile;
// DownloadFile then starts it again on the new version.
var ErrReplaced = errors.New("object replaced during the download")

// DownloadFile downloads into dest: fill writes the whole content into a
// File, which is committed only once fill succeeds. A fill that fails with
// ErrReplaced is run again on the same file, three times at most.
func DownloadFile(dest string, overwrite bool, fill func(f *File) error) error {
	f, err := CreateFile(dest, overwrite)
	if err != nil {
		return err
	}
	defer f.Close()
	for attempt := 1; ; attempt++ {
		err := fill(f)
		if err == nil {
			break
		}
		if attempt == 3 || !errors.Is(err, ErrReplaced) {
			return err
		}
	}
	return f.Commit()
}
