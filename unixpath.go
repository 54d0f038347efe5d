package evio

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// prepareUnixPath makes path ready to bind a unix socket: a socket file
// left by a server that is gone is removed; a live socket, a regular file or
// a directory is an error and is left alone.
//
// A socket file is stale only when connecting to it is refused: nothing
// listens there. Any other failure (EAGAIN from a full backlog, a timeout
// from a server too busy to answer) may be a live server's, whose file must
// not be taken from it.
func prepareUnixPath(raw, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("evio: listen %q: %w", raw, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("evio: listen %q: %s exists and is not a socket (%s); refusing to remove it", raw, path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("evio: listen %q: a server is already listening on %s", raw, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil // removed since: nothing to do
	case !connectionRefused(err):
		return fmt.Errorf("evio: listen %q: %s may be in use by a busy server, leaving it: %w", raw, path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("evio: listen %q: removing stale socket: %w", raw, err)
	}
	return nil
}

// unixSocketFile remembers the socket file a listener created, so that
// shutdown removes that file and not one another process put there since.
type unixSocketFile struct {
	path string
	info fs.FileInfo
}

func statUnixSocket(path string) *unixSocketFile {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	return &unixSocketFile{path: path, info: fi}
}

func (f *unixSocketFile) remove() {
	if f == nil {
		return
	}
	if fi, err := os.Lstat(f.path); err == nil && os.SameFile(fi, f.info) {
		os.Remove(f.path)
	}
}
