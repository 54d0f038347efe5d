package evio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evio-go/evio/internal/uring"
	"golang.org/x/sys/unix"
)

// uringAvailable reports whether this process may use io_uring with the
// engine's flags, and if not, why.
func uringAvailable() error {
	r, err := uring.Setup(8, uring.SetupClamp|uring.SetupSingleIssuer|uring.SetupDeferTaskrun|uring.SetupRDisabled)
	if err != nil {
		return err
	}
	r.Close()
	return nil
}

// TestURingEngineReported: a server asked for io_uring says which engine
// it runs on, and it is io_uring wherever the system allows the ring.
func TestURingEngineReported(t *testing.T) {
	described := make(chan Server, 1)
	events := echoEvents()
	events.Serving = func(s Server) Action { described <- s; return None }
	s := startServer(t, events, "tcp-uring://127.0.0.1:0")
	got := <-described
	c := s.dial(0)
	c.Write([]byte("ring\n"))
	if line := readLine(t, bufio.NewReader(c), c); line != "ring" {
		t.Fatalf("echo = %q", line)
	}
	if why := uringAvailable(); why != nil {
		if got.Engine != "epoll" || !errors.Is(got.EngineFallback, ErrIOUringUnavailable) {
			t.Fatalf("io_uring refused here (%v), but the server says Engine %q, EngineFallback %v", why, got.Engine, got.EngineFallback)
		}
		t.Logf("io_uring refused here, as the server reports: %v", got.EngineFallback)
		return
	}
	if got.Engine != "io_uring" || got.EngineFallback != nil {
		t.Fatalf("Engine %q, EngineFallback %v; want io_uring", got.Engine, got.EngineFallback)
	}
	// Without the suffix, epoll: io_uring is opt-in.
	events.Serving = func(s Server) Action { described <- s; return None }
	startServer(t, events, "tcp://127.0.0.1:0")
	if d := <-described; d.Engine != "epoll" || d.EngineFallback != nil {
		t.Fatalf("default: Engine %q, EngineFallback %v; want epoll", d.Engine, d.EngineFallback)
	}
}

// TestURingFallback refuses the io_uring_setup call as old kernels
// (ENOSYS), the io_uring_disabled sysctl and seccomp profiles (EPERM,
// EACCES) and kernels without the engine's flags (EINVAL) do: the server
// runs on epoll, says so and why in Server.EngineFallback, logs nothing,
// and serves.
func TestURingFallback(t *testing.T) {
	for _, errno := range []syscall.Errno{unix.ENOSYS, unix.EPERM, unix.EACCES, unix.EINVAL} {
		t.Run(errno.Error(), func(t *testing.T) {
			restore := uring.RefuseSetup(errno)
			described := make(chan Server, 1)
			events := echoEvents()
			events.NumLoops = 2
			events.Serving = func(s Server) Action { described <- s; return None }
			s := startServer(t, events, "tcp-uring://127.0.0.1:0", "unix-uring://"+unixPath(t))
			restore()
			got := <-described
			if got.Engine != "epoll" {
				t.Fatalf("Engine = %q, want epoll", got.Engine)
			}
			if !errors.Is(got.EngineFallback, ErrIOUringUnavailable) || !errors.Is(got.EngineFallback, errno) {
				t.Fatalf("EngineFallback = %v, want ErrIOUringUnavailable wrapping %v", got.EngineFallback, errno)
			}
			for i := range s.addrs {
				c := s.dial(i)
				c.Write([]byte("still served\n"))
				if line := readLine(t, bufio.NewReader(c), c); line != "still served" {
					t.Fatalf("address %d: echo = %q", i, line)
				}
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("Serve = %v", err)
			}
		})
	}
	// Other failures are errors, not a fall-back.
	restore := uring.RefuseSetup(unix.EMFILE)
	err := Serve(echoEvents(), "tcp-uring://127.0.0.1:0")
	restore()
	if err == nil || errors.Is(err, ErrIOUringUnavailable) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("Serve with io_uring_setup failing with EMFILE = %v, want that error", err)
	}
}

// TestURingSuffixesConflict: -uring and -net ask for two engines.
func TestURingSuffixesConflict(t *testing.T) {
	err := Serve(echoEvents(), "tcp-uring://127.0.0.1:0", "tcp-net://127.0.0.1:0")
	if err == nil {
		t.Fatal("Serve accepted -uring and -net together")
	}
}

// requireURing skips nothing on a system with io_uring; elsewhere the
// stress tests below have no engine to stress, and say so (the fall-back
// itself is tested above).
func requireURing(t *testing.T) {
	if why := uringAvailable(); why != nil {
		t.Skipf("io_uring refused here: %v", why)
	}
}

// uringTransportOf is c's loop's io_uring transport; from c's events.
func uringTransportOf(c Conn) *uringTransport { return c.(*conn).loop.tp.(*uringTransport) }

// TestURingBufferRingExhausted runs 64 connections pushing 256 KiB each
// through an echo server whose loop has only 4 provided buffers: receives
// keep ending with ENOBUFS and are armed again, and every byte comes back
// in order.
func TestURingBufferRingExhausted(t *testing.T) {
	requireURing(t)
	defer func(n uint16) { uringBuffers = n }(uringBuffers)
	uringBuffers = 4
	var noBuffers atomic.Int64
	events := Events{
		Data: func(c Conn, in []byte) ([]byte, Action) {
			noBuffers.Store(int64(uringTransportOf(c).noBuffers))
			return in, None
		},
	}
	s := startServer(t, events, "tcp-uring://127.0.0.1:0")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := make([]byte, 256<<10)
			rand.New(rand.NewSource(int64(i))).Read(msg)
			c, err := net.Dial("tcp", s.addrs[0].String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("client %d: the echo differs", i)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if noBuffers.Load() == 0 {
		t.Fatal("the buffer ring never ran dry: the test did not test ENOBUFS")
	}
	t.Logf("%d receives ended with ENOBUFS and were armed again", noBuffers.Load())
}

// TestURingCloseWithOperationsInFlight aborts and closes connections while
// their sends and receives are in flight, as new connections take the
// descriptor numbers just released: no completion of a closed socket may
// reach the connection that reuses its number (each new connection checks
// that its echo is exactly its own), and no descriptor is left open.
func TestURingCloseWithOperationsInFlight(t *testing.T) {
	requireURing(t)
	fdsBefore := openDescriptors()
	big := bytes.Repeat([]byte("x"), 4<<20)
	events := Events{
		NumLoops: 2,
		Data: func(c Conn, in []byte) ([]byte, Action) {
			switch in[0] {
			case 'A': // a large reply, then a cut while it is in flight
				c.AfterFunc(time.Duration(rand.Intn(2000))*time.Microsecond, func() ([]byte, Action) { return nil, Abort })
				return big, None
			case 'C': // a large reply and a close that waits for it
				return big, Close
			}
			return in, None
		},
	}
	s := startServer(t, events, "tcp-uring://127.0.0.1:0", "unix-uring://"+unixPath(t))
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for time.Now().Before(deadline) {
				a := s.addrs[rng.Intn(2)]
				c, err := net.Dial(a.Network(), a.String())
				if err != nil {
					errs <- err
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				switch rng.Intn(3) {
				case 0:
					c.Write([]byte("A"))
					io.CopyN(io.Discard, c, int64(rng.Intn(64<<10)))
				case 1:
					c.Write([]byte("C"))
					if rng.Intn(2) == 0 {
						io.CopyN(io.Discard, c, int64(rng.Intn(1<<20)))
					} else if n, _ := io.Copy(io.Discard, c); n != int64(len(big)) {
						errs <- fmt.Errorf("a reply closed gracefully arrived with %d of %d bytes", n, len(big))
					}
				default:
					msg := make([]byte, 1+rng.Intn(8<<10))
					rng.Read(msg)
					msg[0] = 'e'
					c.Write(msg)
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
						errs <- fmt.Errorf("an echo came back wrong (%v): another socket's bytes?", err)
					}
				}
				if tc, ok := c.(*net.TCPConn); ok && rng.Intn(2) == 0 {
					tc.SetLinger(0)
				}
				c.Close()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if fdsBefore >= 0 {
		waitFor(t, "descriptors to be released", func() bool { return openDescriptors() <= fdsBefore })
	}
}
