//go:build linux

package uring

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setupOrSkip sets a ring up. Where the system refuses io_uring (a
// seccomp profile, the io_uring_disabled sysctl, an old kernel) there is
// nothing to test but the refusal itself, which TestSetupRefused covers
// everywhere: the test is skipped, saying why.
func setupOrSkip(t *testing.T, flags uint32) *Ring {
	t.Helper()
	r, err := Setup(64, flags)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// A NOP goes through the submission queue and comes back with its
// user data: the queues are mapped and ordered right.
func TestNop(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	for round := uint64(0); round < 200; round++ { // wraps the 64-entry queues
		sqe := r.GetSQE()
		if sqe == nil {
			t.Fatal("no free submission entry")
		}
		sqe.Opcode, sqe.UserData = OpNop, 1000+round
		if n, err := r.Submit(1); err != nil || n != 1 {
			t.Fatalf("Submit = %d, %v", n, err)
		}
		cqe, ok := r.PeekCQE()
		if !ok {
			t.Fatal("no completion after waiting for one")
		}
		if cqe.UserData != 1000+round || cqe.Res != 0 {
			t.Fatalf("completion %+v, want user data %d and res 0", *cqe, 1000+round)
		}
		r.SeenCQE()
	}
	if _, ok := r.PeekCQE(); ok {
		t.Fatal("a completion left over")
	}
}

// The queue is full after as many entries as it has, until submitted.
func TestFullQueue(t *testing.T) {
	r := setupOrSkip(t, SetupClamp)
	for i := 0; i < 64; i++ {
		if r.GetSQE() == nil {
			t.Fatalf("queue full after %d entries", i)
		}
	}
	if r.GetSQE() != nil {
		t.Fatal("a 65th entry in a 64-entry queue")
	}
	if n, err := r.Submit(64); err != nil || n != 64 {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	for i := 0; i < 64; i++ {
		if _, ok := r.PeekCQE(); !ok {
			t.Fatalf("%d completions, want 64", i)
		}
		r.SeenCQE()
	}
}

// A recv into Go memory on one thread-bound ring with the flags the
// engine wants (single issuer, deferred task work): the bytes land, the
// result counts them.
func TestRecvSingleIssuer(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := setupOrSkip(t, SetupClamp|SetupSingleIssuer|SetupDeferTaskrun)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	buf := make([]byte, 64)
	sqe := r.GetSQE()
	sqe.Opcode, sqe.FD, sqe.UserData = OpRecv, int32(fds[0]), 7
	sqe.Addr, sqe.Len = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fds[1], []byte("over the ring")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Submit(1); err != nil {
		t.Fatal(err)
	}
	cqe, ok := r.PeekCQE()
	if !ok || cqe.UserData != 7 || cqe.Res != int32(len("over the ring")) {
		t.Fatalf("completion %+v, %v", cqe, ok)
	}
	r.SeenCQE()
	runtime.KeepAlive(buf) // the kernel wrote it while the recv was in flight
	if string(buf[:cqe.Res]) != "over the ring" {
		t.Fatalf("received %q", buf[:cqe.Res])
	}
}

// Where the system refuses io_uring (old kernels: ENOSYS; the
// io_uring_disabled sysctl or a container's seccomp profile: EPERM), Setup
// says so with ErrUnavailable, for the caller to fall back to epoll;
// other failures are not mistaken for it.
func TestSetupRefused(t *testing.T) {
	real := setupSyscall
	defer func() { setupSyscall = real }()
	for _, errno := range []syscall.Errno{unix.ENOSYS, unix.EPERM, unix.EACCES, unix.EINVAL} {
		setupSyscall = func(uint32, *params) (int, syscall.Errno) { return -1, errno }
		r, err := Setup(64, 0)
		if r != nil || !errors.Is(err, ErrUnavailable) || !errors.Is(err, errno) {
			t.Fatalf("refused with %v: Setup = %v, %v; want ErrUnavailable wrapping it", errno, r, err)
		}
	}
	setupSyscall = func(uint32, *params) (int, syscall.Errno) { return -1, unix.EMFILE }
	if _, err := Setup(64, 0); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("EMFILE: Setup error %v, want an error that is not ErrUnavailable", err)
	}
}

// A ring is created disabled on one goroutine, its buffer ring registered
// there, and enabled by the goroutine that will be its only issuer, on
// its own thread: how an engine builds each loop's ring before the loop
// runs.
func TestEnableOnAnotherThread(t *testing.T) {
	r := setupOrSkip(t, SetupClamp|SetupSingleIssuer|SetupDeferTaskrun|SetupRDisabled)
	br, err := r.RegisterBufRing(0, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	done := make(chan string, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := r.EnableRings(); err != nil {
			done <- err.Error()
			return
		}
		sqe := r.GetSQE()
		sqe.Opcode, sqe.UserData = OpNop, 9
		if _, err := r.SubmitWait(1, time.Second); err != nil {
			done <- err.Error()
			return
		}
		cqe, ok := r.PeekCQE()
		if !ok || cqe.UserData != 9 {
			done <- "no completion for the nop"
			return
		}
		r.SeenCQE()
		done <- ""
	}()
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
}
