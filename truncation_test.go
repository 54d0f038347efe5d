package evio

import (
	"errors"
	"testing"
	"time"
)

// truncationCase is one way a connection with output queued for a peer
// that does not read can end.
type truncationCase struct {
	name string
	// opened is the Opened event: it queues far more than the socket
	// buffers hold, and arranges how the connection ends.
	opened func(c Conn) ([]byte, Options, Action)
	// data is the Data event, if the case needs one.
	data    func(c Conn, in []byte) ([]byte, Action)
	request bool  // the peer sends a request once connected
	wantErr error // what Closed gets
	reset   bool  // the peer's read must end with a reset; else with every byte and an EOF
}

// truncationReply is what each case queues: 4 MiB, patterned.
const truncationReply = 4 << 20

// TestTruncatedStreamsReset: a connection cut with output still queued
// (its output bound, a write deadline, an idle timeout, the Abort action)
// ends with a reset, so that its peer's read fails with ECONNRESET and the
// peer cannot take what it got for the whole stream; an ordinary Close
// with output queued gives the peer every byte, then a clean end of
// stream.
func TestTruncatedStreamsReset(t *testing.T) {
	reply := patterned(0, truncationReply)
	more := func() ([]byte, Action) { return []byte("more"), None }
	cases := []truncationCase{{
		name: "MaxOutput",
		opened: func(c Conn) ([]byte, Options, Action) {
			c.AfterFunc(100*time.Millisecond, more) // output while at the bound
			return reply, Options{MaxOutput: 1 << 20}, None
		},
		wantErr: ErrOutputLimit,
		reset:   true,
	}, {
		name: "write deadline",
		opened: func(c Conn) ([]byte, Options, Action) {
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			return reply, Options{}, None
		},
		wantErr: ErrWriteDeadline,
		reset:   true,
	}, {
		name: "idle timeout",
		opened: func(c Conn) ([]byte, Options, Action) {
			return reply, Options{IdleTimeout: 100 * time.Millisecond}, None
		},
		wantErr: ErrIdleTimeout,
		reset:   true,
	}, {
		name: "Abort from a timer",
		opened: func(c Conn) ([]byte, Options, Action) {
			c.AfterFunc(100*time.Millisecond, func() ([]byte, Action) { return []byte("discarded"), Abort })
			return reply, Options{}, None
		},
		reset: true,
	}, {
		name:   "Abort from Data with nothing queued",
		opened: func(c Conn) ([]byte, Options, Action) { return nil, Options{}, None },
		data: func(c Conn, in []byte) ([]byte, Action) {
			return []byte("discarded"), Abort
		},
		request: true,
		reset:   true,
	}, {
		name: "Close",
		opened: func(c Conn) ([]byte, Options, Action) {
			return reply, Options{}, Close
		},
	}}
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				closed := make(chan error, 1)
				events := Events{
					Opened: func(c Conn) ([]byte, Options, Action) {
						setSendBuffer(c, 64<<10)
						return tc.opened(c)
					},
					Data:   tc.data,
					Closed: func(c Conn, err error) Action { closed <- err; return None },
				}
				s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
				c := dialNonReader(t, s.addrs[0].String())
				if tc.request {
					c.Write([]byte("x"))
				}
				var closedErr error
				if tc.reset {
					// Cut while the peer reads nothing, then read.
					select {
					case closedErr = <-closed:
					case <-time.After(10 * time.Second):
						t.Fatal("Closed did not fire")
					}
					checkReset(t, c)
				} else {
					time.Sleep(200 * time.Millisecond) // the close waits for the output
					got := readAllWithin(t, c, 20*time.Second)
					if len(got) != truncationReply || checkPatterned(0, got) >= 0 {
						t.Fatalf("received %d of %d bytes (first wrong at %d)", len(got), truncationReply, checkPatterned(0, got))
					}
					closedErr = <-closed
				}
				if !errors.Is(closedErr, tc.wantErr) { // for a nil want: closedErr == nil
					t.Errorf("Closed = %v, want %v", closedErr, tc.wantErr)
				}
			})
		}
	})
}

// TestShutdownDrainDeadlineResets: output a shutdown could not write
// within its drain time is cut with a reset, so that the peer does not
// take what it got for the whole stream; Closed gets nil. (The drain lasts
// drainTimeout, 5 s; the engines run in parallel.)
func TestShutdownDrainDeadlineResets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		t.Parallel()
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				return patterned(0, truncationReply), Options{}, Shutdown
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := dialNonReader(t, s.addrs[0].String())
		start := time.Now()
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < drainTimeout-time.Second {
			t.Fatalf("Serve returned after %v, before the drain deadline", d)
		}
		if err := <-closed; err != nil {
			t.Errorf("Closed at shutdown = %v, want nil", err)
		}
		checkReset(t, c)
	})
}
