package local

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"unsafe"
)

// attrName is the extended attribute that holds an object's attributes.
const attrName = "user.stowage"

// errNoAttrs means the file system keeps no extended attributes.
var errNoAttrs = errors.New("extended attributes not supported")

func mapXattrErr(err error) error {
	if errors.Is(err, syscall.ENOTSUP) {
		return errNoAttrs
	}
	return err
}

// fsetAttrs stores value on the open file f.
func fsetAttrs(f *os.File, value []byte) error {
	name, err := syscall.BytePtrFromString(attrName)
	if err != nil {
		return err
	}
	var p unsafe.Pointer
	if len(value) > 0 {
		p = unsafe.Pointer(&value[0])
	}
	rc, cerr := f.SyscallConn()
	if cerr != nil {
		return cerr
	}
	var errno syscall.Errno
	if cerr := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_FSETXATTR, fd, uintptr(unsafe.Pointer(name)),
			uintptr(p), uintptr(len(value)), 0, 0)
	}); cerr != nil {
		return cerr
	}
	if errno != 0 {
		return mapXattrErr(errno)
	}
	return nil
}

// fgetAttrs reads the value stored on the open file f; nil when it has none.
func fgetAttrs(f *os.File) ([]byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var out []byte
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		out, gerr = getAttrs(func(buf []byte) (int, error) {
			name, err := syscall.BytePtrFromString(attrName)
			if err != nil {
				return 0, err
			}
			var p unsafe.Pointer
			if len(buf) > 0 {
				p = unsafe.Pointer(&buf[0])
			}
			n, _, errno := syscall.Syscall6(syscall.SYS_FGETXATTR, fd, uintptr(unsafe.Pointer(name)),
				uintptr(p), uintptr(len(buf)), 0, 0)
			if errno != 0 {
				return 0, errno
			}
			return int(n), nil
		})
	}); err != nil {
		return nil, err
	}
	return out, gerr
}

// getAttrsPath reads the value stored on the file at path.
func getAttrsPath(path string) ([]byte, error) {
	return getAttrs(func(buf []byte) (int, error) { return syscall.Getxattr(path, attrName, buf) })
}

func getAttrs(get func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 512)
	for {
		n, err := get(buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, syscall.ENODATA):
			return nil, nil
		case errors.Is(err, syscall.ERANGE) && len(buf) < 1<<16:
			buf = make([]byte, 1<<16)
		default:
			return nil, mapXattrErr(err)
		}
	}
}

// tryLock takes an exclusive lock on f without waiting, reporting whether
// it got it. Writers hold it on their temporary files, so a cleaner can
// tell an abandoned file from one in use.
func tryLock(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
	}); err != nil {
		return false
	}
	return lerr == nil
}

// dupFile returns an *os.File of its own for the folder f, named name.
func dupFile(f *os.File, name string) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var errno syscall.Errno
	if err := rc.Control(func(orig uintptr) {
		var r uintptr
		r, _, errno = syscall.Syscall(syscall.SYS_FCNTL, orig, syscall.F_DUPFD_CLOEXEC, 0)
		fd = int(r)
	}); err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, errno
	}
	return os.NewFile(uintptr(fd), name), nil
}

// fileID is the inode number of the file fi describes.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
