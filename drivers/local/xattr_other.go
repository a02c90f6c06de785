//go:build !linux

package local

import (
	"errors"
	"io/fs"
	"os"
)

// errNoAttrs means the file system keeps no extended attributes. Outside
// Linux the driver stores no metadata and no hash.
var errNoAttrs = errors.New("extended attributes not supported on this system")

func fsetAttrs(*os.File, []byte) error    { return errNoAttrs }
func fgetAttrs(*os.File) ([]byte, error)  { return nil, errNoAttrs }
func getAttrsPath(string) ([]byte, error) { return nil, errNoAttrs }
func tryLock(*os.File) bool               { return false }

// dupFile returns the folder f opened again by name: without the Linux
// system calls, this is the portable way.
func dupFile(f *os.File, name string) (*os.File, error) { return os.Open(name) }

// fileID is 0 where no inode number is read: the ETag is then time and
// size alone.
func fileID(fs.FileInfo) uint64 { return 0 }
