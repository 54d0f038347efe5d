package evio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The rest of the evio contract on TLS connections: bounds, flow control,
// deadlines, outbound TLS, Detach, listeners side by side, handshakes
// bounded in number and callbacks that block.

// Case 9: a large reply to a slow reader with a small socket buffer goes
// out in partial writes, through writability, byte-exact.
func TestTLSLargeReplySlowReader(t *testing.T) {
	const size = 8 << 20
	payload := make([]byte, size)
	rand.New(rand.NewSource(9)).Read(payload)
	want := sha256.Sum256(payload)
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{TLSConfig: serverTLS(t)}
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			setSendBuffer(c, 64<<10) // smaller stalls loopback TCP itself
			return nil, Options{}, None
		}
		events.Data = func(c Conn, in []byte) ([]byte, Action) { return payload, Close }
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		raw := s.dial(0)
		raw.(*net.TCPConn).SetReadBuffer(64 << 10)
		tc := tls.Client(raw, clientTLS(t))
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		tc.Write([]byte("go"))
		h := sha256.New()
		buf := make([]byte, 3000)
		total := 0
		for {
			n, err := tc.Read(buf)
			h.Write(buf[:n])
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", total, err)
			}
			if total%(64<<10) < 3000 {
				time.Sleep(time.Millisecond) // slow
			}
		}
		if total != size || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("got %d bytes (hash match %v), want %d", total, bytes.Equal(h.Sum(nil), want[:]), size)
		}
	})
}

// Output bounds count encrypted bytes: pushes to a peer that does not
// read cut it at MaxOutput with ErrOutputLimit and a reset; a peer that
// sends requests and reads nothing is held back at the high mark.
func TestTLSOutputBounds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		var maxQueued atomic.Int64
		events := Events{TLSConfig: serverTLS(t)}
		var refused atomic.Bool
		chunk := bytes.Repeat([]byte("p"), 32<<10)
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			setSendBuffer(c, 16<<10)
			go func() {
				// Conn.Write refuses past the bound instead of queueing.
				for c.Write(chunk) == nil {
					time.Sleep(100 * time.Microsecond)
				}
				refused.Store(true)
				// An event that pushes past it cuts the connection.
				for i := 0; i < 1000; i++ {
					c.Wake()
					time.Sleep(time.Millisecond)
				}
			}()
			return nil, Options{MaxOutput: 1 << 20}, None
		}
		events.Data = func(c Conn, in []byte) ([]byte, Action) {
			if in == nil && refused.Load() {
				return chunk, None
			}
			return nil, None
		}
		events.Closed = func(c Conn, err error) Action {
			closed <- err
			return None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		raw := s.dial(0)
		raw.(*net.TCPConn).SetReadBuffer(16 << 10)
		tc := tls.Client(raw, clientTLS(t))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-closed:
			if !errors.Is(err, ErrOutputLimit) || !refused.Load() {
				t.Fatalf("Closed got %v (Write refused first: %v), want ErrOutputLimit", err, refused.Load())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the pushes past the bound did not cut the connection")
		}
		if _, err := io.Copy(io.Discard, tc); err == nil || !strings.Contains(err.Error(), "reset") {
			t.Fatalf("the client read to %v, want a reset", err)
		}

		// Requests without reads: a server that answers while its queue is
		// under the high mark, keeps the rest of the requests for Drained,
		// and is not read from above the mark, as examples/redis-server.
		const high = 512 << 10
		reply := bytes.Repeat([]byte("r"), 64<<10)
		var pending atomic.Int64
		answer := func(c Conn) []byte {
			var out []byte
			for pending.Load() > 0 && c.QueuedOutput()+len(out) < high {
				out = append(out, reply...)
				pending.Add(-1)
			}
			if q := int64(c.QueuedOutput() + len(out)); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
			return out
		}
		events = Events{TLSConfig: serverTLS(t)}
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			setSendBuffer(c, 16<<10)
			return nil, Options{OutputHighWater: high, OutputLowWater: 128 << 10}, None
		}
		events.Data = func(c Conn, in []byte) ([]byte, Action) {
			pending.Add(int64(bytes.Count(in, []byte("?"))))
			return answer(c), None
		}
		events.Drained = func(c Conn) ([]byte, Action) { return answer(c), None }
		s = startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		raw = s.dial(0)
		raw.(*net.TCPConn).SetReadBuffer(16 << 10)
		tc = tls.Client(raw, clientTLS(t))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					sent <- n
					return
				default:
				}
				tc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := tc.Write([]byte("????????")); err == nil {
					n += 8
				}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		close(stop)
		n := <-sent
		// The queue: the high mark plus one reply, in encrypted bytes
		// (records add 22 bytes per 16 KiB).
		if q := maxQueued.Load(); q > int64(high+len(reply)+8<<10) {
			t.Fatalf("the queue reached %d bytes with a 512 KiB high mark", q)
		}
		// The client: held back by TCP once the server stops reading
		// (kernel buffers), where 500 ms unchecked would be hundreds of MB.
		if n >= 16<<20 {
			t.Fatalf("the client sent %d bytes of requests unread: not held back", n)
		}
		t.Logf("client sent %d request bytes; the largest queue was %d bytes", n, maxQueued.Load())
	})
}

// A read deadline and an idle timeout close TLS connections as plain ones.
func TestTLSDeadlines(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 2)
		events := tlsEchoEvents(t)
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			if c.RemoteAddr().(*net.TCPAddr).Port%2 == 0 {
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				return nil, Options{}, None
			}
			return nil, Options{IdleTimeout: 200 * time.Millisecond}, None
		}
		events.Closed = func(c Conn, err error) Action {
			closed <- err
			return None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		for i := 0; i < 2; i++ {
			tc := s.dialTLS(0, clientTLS(t))
			select {
			case err := <-closed:
				if !errors.Is(err, ErrReadDeadline) && !errors.Is(err, ErrIdleTimeout) {
					t.Fatalf("Closed got %v, want a deadline or idle timeout", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the deadline did not close the TLS connection")
			}
			tc.Close()
		}
	})
}

// Outbound TLS: Handle.Dial with a TLSConfig opens once the handshake is
// done (with the state in Opened), writes made before it are encrypted
// after, and a certificate that does not verify gets Closed with the
// error and no Opened.
func TestTLSDial(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		backend := startServer(t, tlsEchoEvents(t), e.addr("tcp", "127.0.0.1:0"))
		type result struct {
			state tls.ConnectionState
			ok    bool
		}
		opened := make(chan result, 2)
		echoed := make(chan string, 2)
		closed := make(chan error, 2)
		h := startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				st, ok := c.TLSConnectionState()
				opened <- result{st, ok}
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				echoed <- string(in)
				return nil, Close
			},
			Closed: func(c Conn, err error) Action {
				closed <- err
				return None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		c, err := h.Dial(backend.addrs[0].String(), DialOptions{TLSConfig: clientTLS(t), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write([]byte("written before Opened")); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-opened:
			if !r.ok || !r.state.HandshakeComplete || r.state.Version != tls.VersionTLS13 {
				t.Fatalf("TLSConnectionState in Opened: ok=%v complete=%v version=%x", r.ok, r.state.HandshakeComplete, r.state.Version)
			}
		case err := <-closed:
			t.Fatalf("closed instead of opened: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no Opened")
		}
		select {
		case got := <-echoed:
			if got != "written before Opened" {
				t.Fatalf("echo %q", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no echo")
		}
		<-closed

		// The host name is checked: the certificate is not for this one.
		bad := clientTLS(t)
		bad.ServerName = "not-the-server.example"
		if _, err := h.Dial(backend.addrs[0].String(), DialOptions{TLSConfig: bad}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-closed:
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("Closed got %v, want a certificate verification error", err)
			}
		case <-opened:
			t.Fatal("Opened fired for a certificate that does not verify")
		case <-time.After(10 * time.Second):
			t.Fatal("no Closed")
		}
	})
}

// Detach hands over the *tls.Conn, which goes on over the socket with
// what was read before.
func TestTLSDetach(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{TLSConfig: serverTLS(t)}
		events.Data = func(c Conn, in []byte) ([]byte, Action) { return []byte("detaching\n"), Detach }
		events.Detached = func(c Conn, rwc io.ReadWriteCloser) Action {
			go func() {
				defer rwc.Close()
				if _, ok := rwc.(*tls.Conn); !ok {
					fmt.Fprintf(rwc, "not a *tls.Conn: %T\n", rwc)
					return
				}
				line := make([]byte, 64)
				n, _ := rwc.Read(line)
				fmt.Fprintf(rwc, "detached got %s", line[:n])
			}()
			return None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		tc := s.dialTLS(0, clientTLS(t))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		tc.Write([]byte("hi\n"))
		r := make([]byte, len("detaching\n"))
		if _, err := io.ReadFull(tc, r); err != nil {
			t.Fatal(err)
		}
		tc.Write([]byte("more\n"))
		rest, err := io.ReadAll(tc)
		if err != nil || string(rest) != "detached got more\n" {
			t.Fatalf("after Detach: %q, %v", rest, err)
		}
	})
}

// A TLS listener and a plain one side by side (tls=false), and the
// address options that would silently serve plain text are errors.
func TestTLSBesidePlain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var sawTLS [2]atomic.Bool
		events := Events{TLSConfig: serverTLS(t)}
		events.Data = func(c Conn, in []byte) ([]byte, Action) {
			_, ok := c.TLSConnectionState()
			sawTLS[c.AddrIndex()].Store(ok)
			return in, None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0?tls=false"), e.addr("tcp", "127.0.0.1:0"))
		plain := s.dial(0)
		plain.Write([]byte("plain"))
		plain.SetReadDeadline(time.Now().Add(5 * time.Second))
		echo := make([]byte, 5)
		if _, err := io.ReadFull(plain, echo); err != nil || string(echo) != "plain" {
			t.Fatalf("plain port echoed %q, %v", echo, err)
		}
		tc := s.dialTLS(1, clientTLS(t))
		tc.Write([]byte("tls"))
		got := make([]byte, 3)
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(tc, got); err != nil || string(got) != "tls" {
			t.Fatalf("TLS port echoed %q, %v", got, err)
		}
		if sawTLS[0].Load() || !sawTLS[1].Load() {
			t.Fatalf("TLSConnectionState ok: plain port %v, TLS port %v", sawTLS[0].Load(), sawTLS[1].Load())
		}
	})
	for _, addr := range []string{"tcp://127.0.0.1:0?tls=true", "udp://127.0.0.1:0?tls=true"} {
		events := Events{}
		if strings.HasPrefix(addr, "udp") {
			events.TLSConfig = serverTLS(t)
		}
		if err := Serve(events, addr); err == nil || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("Serve(%q) = %v, want an error about tls", addr, err)
		}
	}
}

// ALPN and client certificates: what the handshake negotiated is there in
// Opened; a client without the required certificate never opens.
func TestTLSConnectionStateInOpened(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		p := testCerts(t)
		cfg := serverTLS(t)
		cfg.NextProtos = []string{"evio/1", "http/1.1"}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.pool
		states := make(chan tls.ConnectionState, 2)
		events := Events{TLSConfig: cfg}
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			st, _ := c.TLSConnectionState()
			states <- st
			return []byte(st.NegotiatedProtocol), Options{}, Close
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		client := clientTLS(t)
		client.NextProtos = []string{"evio/1"}
		client.Certificates = []tls.Certificate{p.client}
		tc := s.dialTLS(0, client)
		got, err := io.ReadAll(tc)
		if err != nil || string(got) != "evio/1" {
			t.Fatalf("Opened wrote %q, %v; want the ALPN protocol evio/1", got, err)
		}
		st := <-states
		if len(st.PeerCertificates) != 1 || st.PeerCertificates[0].Subject.CommonName != "evio test client" {
			t.Fatalf("peer certificates in Opened: %v", st.PeerCertificates)
		}
		// Without a certificate: no Opened.
		raw := s.dial(0)
		tc = tls.Client(raw, clientTLS(t))
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake()
		if _, err := tc.Read(make([]byte, 1)); err == nil {
			t.Fatal("a client without a certificate was served")
		}
		select {
		case <-states:
			t.Fatal("Opened fired for a client without a certificate")
		case <-time.After(100 * time.Millisecond):
		}
	})
}

// GetConfigForClient runs on the handshake goroutine: while it blocks,
// the loop serves everyone else.
func TestTLSBlockingCallbackDoesNotStallTheLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		release := make(chan struct{})
		cfg := serverTLS(t)
		base := cfg.Clone()
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if hello.ServerName == "slow.example" {
				select {
				case <-release:
				case <-hello.Context().Done():
				}
			}
			return base, nil
		}
		events := Events{TLSConfig: cfg}
		events.Data = func(c Conn, in []byte) ([]byte, Action) { return in, None }
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		slow := clientTLS(t)
		slow.ServerName = "slow.example"
		slow.InsecureSkipVerify = true
		slowDone := make(chan error, 1)
		go func() {
			raw, err := net.Dial("tcp", s.addrs[0].String())
			if err != nil {
				slowDone <- err
				return
			}
			defer raw.Close()
			tc := tls.Client(raw, slow)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			slowDone <- tc.Handshake()
		}()
		for i := 0; i < 5; i++ {
			tc := s.dialTLS(0, clientTLS(t))
			tc.Write([]byte("x"))
			b := make([]byte, 1)
			tc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(tc, b); err != nil {
				t.Fatalf("served while a callback blocks: %v", err)
			}
			tc.Close()
		}
		select {
		case err := <-slowDone:
			t.Fatalf("the slow handshake ended before its callback returned: %v", err)
		default:
		}
		close(release)
		if err := <-slowDone; err != nil {
			t.Fatalf("the slow handshake: %v", err)
		}
	})
}

// The slow-handshake attack: a client that sends nothing holds no
// handshake goroutine; with MaxTLSHandshakes in flight taken by clients
// that stopped halfway through their ClientHello, a new client waits for
// a slot (one frees when a slow one times out), and is served then.
func TestTLSHandshakesBounded(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := tlsEchoEvents(t)
		events.MaxTLSHandshakes = 2
		events.TLSHandshakeTimeout = time.Second
		h := startHandle(t, events, e.addr("tcp", "127.0.0.1:0"))
		addr := h.Addrs()[0].String()
		hello := clientHello(t)
		open := func(send []byte) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.Write(send)
		}
		handshake := func() time.Duration {
			start := time.Now()
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			tc := tls.Client(raw, clientTLS(t))
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			tc.Write([]byte("served"))
			b := make([]byte, 6)
			if _, err := io.ReadFull(tc, b); err != nil {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		open(nil)
		open(nil)
		waitFor(t, "two silent clients accepted", func() bool { return h.Counters().Accepted == 2 })
		if d := handshake(); d > 500*time.Millisecond {
			t.Fatalf("with two silent clients, a handshake took %v: they hold slots", d)
		}
		open(hello[:len(hello)/2])
		open(hello[:len(hello)/2])
		waitFor(t, "two stalled handshakes accepted", func() bool { return h.Counters().Accepted == 5 })
		// The next client comes 200 ms later: its own timeout, counted
		// from its accept, leaves it that long once theirs free the slots.
		time.Sleep(200 * time.Millisecond)
		if d := handshake(); d < 600*time.Millisecond {
			t.Fatalf("the handshake finished after %v, before a slot was free (the stalled ones time out after 1s)", d)
		}
		waitFor(t, "four failures counted", func() bool {
			n := h.Counters()
			return n.TLSHandshakeFailures == 4 && n.TLSHandshakes == 2
		})
	})
}

// Stop with handshakes in flight ends them: their goroutines return
// (TestMain checks that none is left), and Stop does not wait for their
// timeouts.
func TestTLSStopDuringHandshakes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := tlsEchoEvents(t)
		events.TLSHandshakeTimeout = time.Minute
		h, err := Start(events, e.addr("tcp", "127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			c, err := net.Dial("tcp", h.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if i%2 == 0 {
				c.Write(clientHello(t)[:50])
			}
		}
		waitFor(t, "ten connections accepted", func() bool { return h.Counters().Accepted == 10 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := h.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Stop took %v with handshakes in flight", d)
		}
		if n := h.Counters(); n.TLSHandshakeFailures != 10 {
			t.Fatalf("%d failed handshakes counted, want 10", n.TLSHandshakeFailures)
		}
	})
}

// A handshake that fails on the server's side sends its alert, and the
// peer reads it rather than a reset: a TLS 1.3 client's Handshake returns
// before the server has checked its certificate, so its first request is
// already on the way (unread input would make a plain close send a reset,
// destroying the alert in flight). The close lingers as a graceful one.
func TestTLSFailedHandshakeAlertIsDelivered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		cfg := serverTLS(t)
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = testCerts(t).pool
		s := startServer(t, Events{TLSConfig: cfg}, e.addr("tcp", "127.0.0.1:0"))
		for i := 0; i < 20; i++ {
			tc := tls.Client(s.dial(0), clientTLS(t)) // no certificate
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("a TLS 1.3 client's handshake ends before the server's check: %v", err)
			}
			tc.Write(bytes.Repeat([]byte("PING\r\n"), 100))
			_, err := tc.Read(make([]byte, 16))
			if err == nil || !strings.Contains(err.Error(), "certificate required") {
				t.Fatalf("try %d: the client read %v, want the certificate_required alert", i, err)
			}
		}
	})
}

// Session tickets work as crypto/tls makes them: a client with a session
// cache resumes on its second connection, and Opened sees it.
func TestTLSSessionResumption(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		resumed := make(chan bool, 2)
		events := Events{TLSConfig: serverTLS(t)}
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			st, _ := c.TLSConnectionState()
			resumed <- st.DidResume
			return []byte("hi"), Options{}, None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		cfg := clientTLS(t)
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		for i, want := range []bool{false, true} {
			tc := s.dialTLS(0, cfg)
			// The ticket comes after the handshake, with the first data.
			b := make([]byte, 2)
			tc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(tc, b); err != nil {
				t.Fatal(err)
			}
			if got := <-resumed; got != want || tc.ConnectionState().DidResume != want {
				t.Fatalf("connection %d: resumed %v (client says %v), want %v", i, got, tc.ConnectionState().DidResume, want)
			}
			tc.Close()
		}
	})
}
