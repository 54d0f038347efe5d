package evio

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestAcceptedAfterShutdownIsClosed (issue 8): a connection the portable
// engine accepts just as its loops stop is closed when Serve returns, not
// left open until a finalizer runs.
func TestAcceptedAfterShutdownIsClosed(t *testing.T) {
	real := stdAcceptFunc
	defer func() { stdAcceptFunc = real }()
	hold := make(chan struct{})
	stdAcceptFunc = func(ln net.Listener) (net.Conn, error) {
		nc, err := ln.Accept()
		if err == nil {
			<-hold // hand it over only once the loops have stopped
		}
		return nc, err
	}
	s := startServer(t, echoEvents(), "tcp-net://127.0.0.1:0")
	c := s.dial(0)
	s.stop.Store(true)                 // the loops stop: they have no connection
	time.Sleep(100 * time.Millisecond) // and are gone by now
	close(hold)
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a connection accepted during shutdown was left open")
	}
}
