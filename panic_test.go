package evio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

var errBoom = errors.New("boom")

// TestPanicInDataClosesOnlyThatConnection: the panicking connection is
// closed with a *PanicError wrapping the value; the others carry on.
func TestPanicInDataClosesOnlyThatConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 4)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if strings.HasPrefix(string(in), "panic") {
					panic(errBoom)
				}
				return in, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		good, bad := s.dial(0), s.dial(0)
		bad.Write([]byte("panic\n"))
		err := <-closed
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Event != "Data" || !errors.Is(err, errBoom) || len(pe.Stack) == 0 {
			t.Fatalf("Closed got %v, want a *PanicError from Data wrapping errBoom", err)
		}
		if got := readAllWithin(t, bad, 5*time.Second); len(got) != 0 {
			t.Fatalf("panicking connection received %q", got)
		}
		good.Write([]byte("still fine\n"))
		if got := readLine(t, bufio.NewReader(good), good); got != "still fine" {
			t.Fatalf("other connection got %q after a panic", got)
		}
	})
}

// TestPanicInOpened closes the connection with the panic.
func TestPanicInOpened(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) { panic("no welcome") },
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		s.dial(0)
		var pe *PanicError
		if err := <-closed; !errors.As(err, &pe) || pe.Event != "Opened" || pe.Value != "no welcome" {
			t.Fatalf("Closed got %v, want a *PanicError from Opened", err)
		}
	})
}

// TestPanicInServerEvents: a panic in Tick, PreWrite or Serving shuts the
// server down and Serve returns it; a panic in Closed is dropped.
func TestPanicInServerEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var ticks int
		err := Serve(Events{Tick: func() (time.Duration, Action) {
			ticks++
			if ticks == 2 {
				panic("tick")
			}
			return time.Millisecond, None
		}}, e.addr("tcp", "127.0.0.1:0"))
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Event != "Tick" {
			t.Fatalf("Serve after a panic in Tick = %v", err)
		}

		err = Serve(Events{Serving: func(Server) Action { panic("serving") }}, e.addr("tcp", "127.0.0.1:0"))
		if !errors.As(err, &pe) || pe.Event != "Serving" {
			t.Fatalf("Serve after a panic in Serving = %v", err)
		}

		events := Events{
			Data:     func(c Conn, in []byte) ([]byte, Action) { return in, None },
			PreWrite: func() { panic("prewrite") },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		if got := readAllWithin(t, c, 5*time.Second); len(got) != 0 {
			t.Fatalf("a reply left although PreWrite panicked: %q", got)
		}
		if err := s.Wait(); !errors.As(err, &pe) || pe.Event != "PreWrite" {
			t.Fatalf("Serve after a panic in PreWrite = %v", err)
		}

		events = Events{
			Data:   func(c Conn, in []byte) ([]byte, Action) { return in, Close },
			Closed: func(c Conn, err error) Action { panic("closed") },
		}
		s = startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		for i := 0; i < 2; i++ {
			c := s.dial(0)
			c.Write([]byte("x"))
			if got := readAllWithin(t, c, 5*time.Second); string(got) != "x" {
				t.Fatalf("connection %d after a panic in Closed got %q", i, got)
			}
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("Serve = %v after panics in Closed, want nil", err)
		}
	})
}

func init() { childMains["panic"] = runPanicChild }

// runPanicChild serves with NoRecover and a Data that panics.
func runPanicChild() int {
	err := Serve(Events{
		NoRecover: true,
		Serving: func(s Server) Action {
			fmt.Printf("ADDR %s\n", s.Addrs[0])
			return None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) { panic("let it crash") },
	}, "tcp"+os.Getenv("EVIO_PANIC_ENGINE")+"://127.0.0.1:0")
	fmt.Println("SERVE-RETURNED", err)
	return 0
}

// TestNoRecoverCrashes: with NoRecover a panic in an event crashes the
// program like any Go panic.
func TestNoRecoverCrashes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		cmd, stdin, out := startChild(t, "panic", "EVIO_PANIC_ENGINE="+e.suffix)
		defer stdin.Close()
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ADDR ") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %q %v", line, err)
		}
		c, err := dialTimeout(strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x"))
		rest, _ := io.ReadAll(out)
		err = cmd.Wait()
		if err == nil || !strings.Contains(string(rest), "panic: let it crash") || strings.Contains(string(rest), "SERVE-RETURNED") {
			t.Fatalf("child with NoRecover: exit %v, output %q; want a crash with the panic", err, rest)
		}
	})
}
