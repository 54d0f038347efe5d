//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestBusyUnixSocketIsKept (issue 8): a unix socket whose server is busy
// (its backlog full, so that a connect fails with EAGAIN) is live, not
// stale: a second Serve on its path must fail and leave the file alone.
// Only a refused connect means nobody listens.
func TestBusyUnixSocketIsKept(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		path := unixPath(t)
		// A server that never accepts, with a backlog of one connection,
		// already taken.
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Listen(fd, 0); err != nil {
			t.Fatal(err)
		}
		queued, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer queued.Close()
		before, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}

		// Were it to start, it would stop at once.
		stopAtOnce := Events{Serving: func(Server) Action { return Shutdown }}
		err = Serve(stopAtOnce, e.addr("unix", path))
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Serve on a busy server's socket = %v, want an error naming %s", err, path)
		}
		after, err := os.Lstat(path)
		if err != nil || !os.SameFile(before, after) {
			t.Fatalf("the busy server's socket file was replaced or removed: %v", err)
		}
	})
}
