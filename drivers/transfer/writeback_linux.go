//go:build linux && (amd64 || arm64)

package transfer

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing back dirty
// pages of the range without waiting for them.
const syncFileRangeWrite = 2

// StartWriteback asks the kernel to start writing the given bytes of f to
// the disk now, without waiting, so that the sync that ends a download or
// an upload finds little left to do and overlaps the transfer instead of
// following it. It is only a hint: errors are ignored.
func StartWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite) })
}
