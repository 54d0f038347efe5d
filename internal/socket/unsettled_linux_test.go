package socket

import (
	"testing"

	"golang.org/x/sys/unix"
)

// tcpPair is a connected pair of non-blocking TCP sockets on loopback.
func tcpPair(t *testing.T) (a, b int) {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	a, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(a, sa); err != nil {
		t.Fatal(err)
	}
	b, _, err = unix.Accept(ln)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(a, true)
	unix.SetNonblock(b, true)
	t.Cleanup(func() { unix.Close(a); unix.Close(b) })
	return a, b
}

// TestUnsettled: a socket with unread input, or with output its peer has
// not taken, is unsettled; one with neither is settled; SO_MEMINFO and
// the queue ioctls agree, and this kernel answers SO_MEMINFO.
func TestUnsettled(t *testing.T) {
	check := func(what string, fd int, want bool) {
		t.Helper()
		got, ok := meminfoUnsettled(fd)
		if !ok {
			t.Fatalf("%s: SO_MEMINFO refused", what)
		}
		if got != want || queuesUnsettled(fd) != want || Unsettled(fd, true) != want {
			t.Errorf("%s: SO_MEMINFO says %v, the ioctls %v, Unsettled %v; want %v", what, got, queuesUnsettled(fd), Unsettled(fd, true), want)
		}
	}
	a, b := tcpPair(t)
	check("a fresh connection", a, false)
	if _, err := unix.Write(a, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	check("the reader, input unread", b, true)
	buf := make([]byte, 64)
	if n, err := unix.Read(b, buf); err != nil || n != 5 {
		t.Fatalf("read %d, %v", n, err)
	}
	check("the reader, input read", b, false)
	check("the writer, output taken and acknowledged", a, false)

	// Fill the peer's window: what is left in a's send queue has not been
	// taken.
	unix.SetsockoptInt(b, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	chunk := make([]byte, 64<<10)
	for i := 0; i < 1024; i++ {
		if _, err := unix.Write(a, chunk); err == unix.EAGAIN {
			break
		}
	}
	check("the writer, its peer not reading", a, true)
}

// TestUnsettledUnixSocket: a unix socket with unread input, or with output
// its peer has not read, is unsettled. SO_MEMINFO cannot tell (a unix
// socket's queued data is charged to the sender: it says settled here),
// so Unsettled asks a unix socket with the ioctls. An HTTP client whose
// body came after a 408 was reset when it did not.
func TestUnsettledUnixSocket(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if Unsettled(fds[1], false) {
		t.Fatal("a fresh unix socket is unsettled")
	}
	if _, err := unix.Write(fds[0], []byte("body")); err != nil {
		t.Fatal(err)
	}
	if !Unsettled(fds[1], false) {
		t.Error("a unix socket with unread input is settled")
	}
	if !Unsettled(fds[0], false) {
		t.Error("a unix socket whose output its peer has not read is settled")
	}
}
