//go:build linux

package uring

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen returns a listening TCP socket on a free loopback port.
func listen(t *testing.T) (fd int, addr string) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	return fd, net.JoinHostPort("127.0.0.1", itoa(sa.(*unix.SockaddrInet4).Port))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// next waits (at most 5 s) for the next completion and consumes it.
func next(t *testing.T, r *Ring) CQE {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cqe, ok := r.PeekCQE(); ok {
			c := *cqe
			r.SeenCQE()
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("no completion within 5s")
		}
		if _, err := r.SubmitWait(1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// One multishot accept takes every connection; one multishot recv per
// connection takes its data into provided buffers, so that an idle
// connection holds none; an empty buffer ring ends the multishot recv
// with ENOBUFS, and it is armed again once buffers come back.
func TestMultishotAcceptAndRecv(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	lfd, addr := listen(t)
	br, err := r.RegisterBufRing(1, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	sqe := r.GetSQE()
	sqe.Opcode, sqe.FD, sqe.IOPrio, sqe.UserData = OpAccept, int32(lfd), AcceptMultishot, 1
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	var accepted []int
	for len(accepted) < 3 {
		cqe := next(t, r)
		if cqe.UserData != 1 || cqe.Res < 0 || cqe.Flags&CQEMore == 0 {
			t.Fatalf("accept completion %+v: want a descriptor, and more to come", cqe)
		}
		accepted = append(accepted, int(cqe.Res))
	}
	for _, fd := range accepted {
		defer unix.Close(fd)
	}

	armRecv := func(fd int) {
		sqe := r.GetSQE()
		sqe.Opcode, sqe.FD, sqe.IOPrio, sqe.Flags = OpRecv, int32(fd), RecvMultishot, SQEBufferSelect
		sqe.BufIndex, sqe.UserData = 1, 100+uint64(fd) // BufIndex is buf_group here
	}
	fd := accepted[0]
	armRecv(fd)
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	// Two messages take both buffers; the third finds none.
	var ids []uint16
	for i, msg := range []string{"first", "second"} {
		clients[0].Write([]byte(msg))
		cqe := next(t, r)
		if cqe.Res != int32(len(msg)) || cqe.Flags&CQEBuffer == 0 || cqe.Flags&CQEMore == 0 {
			t.Fatalf("recv %d: completion %+v", i, cqe)
		}
		id := uint16(cqe.Flags >> CQEBufferShift)
		if got := string(br.Buffer(id, int(cqe.Res))); got != msg {
			t.Fatalf("buffer %d holds %q, want %q", id, got, msg)
		}
		ids = append(ids, id)
	}
	clients[0].Write([]byte("third"))
	cqe := next(t, r)
	if cqe.Res != -int32(unix.ENOBUFS) || cqe.Flags&CQEMore != 0 {
		t.Fatalf("with no buffer left: completion %+v, want -ENOBUFS and the multishot ended", cqe)
	}
	for _, id := range ids {
		br.Provide(id)
	}
	armRecv(fd)
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	cqe = next(t, r)
	if cqe.Res != 5 || string(br.Buffer(uint16(cqe.Flags>>CQEBufferShift), 5)) != "third" {
		t.Fatalf("after re-arming: completion %+v", cqe)
	}
}

// A wait with a timeout returns when the time is up, with nothing.
func TestSubmitWaitTimeout(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	start := time.Now()
	if _, err := r.SubmitWait(1, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v for a 30ms timeout", d)
	}
	if _, ok := r.PeekCQE(); ok {
		t.Fatal("a completion from nowhere")
	}
}
