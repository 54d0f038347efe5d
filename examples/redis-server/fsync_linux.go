package main

import (
	"os"
	"syscall"
)

// syncData flushes f's data to disk with fdatasync(2), as Redis does on
// Linux: the file's metadata other than its size need not be written.
func syncData(f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var syncErr error
	if err := raw.Control(func(fd uintptr) {
		for {
			syncErr = syscall.Fdatasync(int(fd))
			if syncErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return syncErr
}
