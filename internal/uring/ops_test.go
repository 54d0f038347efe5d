//go:build linux

package uring

import (
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What the engine needs beyond accept and recv: a send whose bytes reach
// the peer, a multishot recv cancelled (a paused connection must stop
// taking buffers) with its last completion saying so, and a wakeup from
// another goroutine through an eventfd read in flight.

func socketpair(t *testing.T) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds
}

func TestSend(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	fds := socketpair(t)
	msg := []byte("sent through the ring")
	sqe := r.GetSQE()
	sqe.Opcode, sqe.FD, sqe.UserData = OpSend, int32(fds[0]), 3
	sqe.Addr, sqe.Len = uint64(uintptr(unsafe.Pointer(&msg[0]))), uint32(len(msg))
	if _, err := r.Submit(1); err != nil {
		t.Fatal(err)
	}
	cqe := next(t, r)
	if cqe.UserData != 3 || cqe.Res != int32(len(msg)) {
		t.Fatalf("send completion %+v", cqe)
	}
	got := make([]byte, 64)
	n, err := unix.Read(fds[1], got)
	if err != nil || string(got[:n]) != string(msg) {
		t.Fatalf("the peer read %q, %v", got[:n], err)
	}
}

func TestCancelMultishotRecv(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	fds := socketpair(t)
	br, err := r.RegisterBufRing(2, 4, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	sqe := r.GetSQE()
	sqe.Opcode, sqe.FD, sqe.IOPrio, sqe.Flags = OpRecv, int32(fds[0]), RecvMultishot, SQEBufferSelect
	sqe.BufIndex, sqe.UserData = 2, 77
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	sqe = r.GetSQE()
	sqe.Opcode, sqe.Addr, sqe.UserData = OpAsyncCancel, 77, 78
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	var cancelled, ended bool
	for !(cancelled && ended) {
		cqe := next(t, r)
		switch cqe.UserData {
		case 78:
			if cqe.Res != 0 {
				t.Fatalf("cancel completion %+v, want 0 (found and cancelled)", cqe)
			}
			cancelled = true
		case 77:
			if cqe.Res != -int32(unix.ECANCELED) || cqe.Flags&CQEMore != 0 {
				t.Fatalf("the recv's last completion %+v, want -ECANCELED and no more", cqe)
			}
			ended = true
		default:
			t.Fatalf("unexpected completion %+v", cqe)
		}
	}
	// Data sent now takes no buffer: nothing completes.
	unix.Write(fds[1], []byte("not taken"))
	if _, err := r.SubmitWait(1, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if cqe, ok := r.PeekCQE(); ok {
		t.Fatalf("a completion after the cancel: %+v", *cqe)
	}
}

// A loop waiting in the ring wakes when another goroutine writes the
// eventfd it has a read in flight on.
func TestEventfdWake(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	var counter [8]byte
	sqe := r.GetSQE()
	sqe.Opcode, sqe.FD, sqe.UserData = OpRead, int32(efd), 9
	sqe.Addr, sqe.Len = uint64(uintptr(unsafe.Pointer(&counter[0]))), 8
	go func() {
		time.Sleep(20 * time.Millisecond)
		var one [8]byte
		binary.LittleEndian.PutUint64(one[:], 1)
		unix.Write(efd, one[:])
	}()
	start := time.Now()
	if _, err := r.SubmitWait(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	cqe, ok := r.PeekCQE()
	if !ok || cqe.UserData != 9 || cqe.Res != 8 {
		t.Fatalf("after %v: completion %+v, %v; want the eventfd read", time.Since(start), cqe, ok)
	}
	r.SeenCQE()
	if binary.LittleEndian.Uint64(counter[:]) != 1 {
		t.Fatalf("eventfd counter %v", counter)
	}
}
