package evio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdFirst returns a Data event that blocks the loop on the first
// datagram until release is closed, so that what is sent meanwhile waits
// in the socket and is read in batches; every datagram, the first too, is
// then answered by reply.
func holdFirst(release <-chan struct{}, held *atomic.Bool, reply func(c Conn, in []byte) []byte) func(Conn, []byte) ([]byte, Action) {
	return func(c Conn, in []byte) ([]byte, Action) {
		if held.CompareAndSwap(false, true) {
			<-release
		}
		return reply(c, in), None
	}
}

// TestUDPBurstLargerThanBatch: datagrams that pile up while the loop is
// busy, more than one read batch (64) and than one recvmmsg (16), are each
// one Data, in the order they were sent, and each reply goes back as one
// datagram, in the same order.
func TestUDPBurstLargerThanBatch(t *testing.T) {
	forEachDatagramPath(t, func(t *testing.T, e engine) {
		const burst = 150 // small datagrams: all fit in a default socket buffer
		release := make(chan struct{})
		var held atomic.Bool
		var mu sync.Mutex
		var seen []uint32
		events := Events{Data: holdFirst(release, &held, func(c Conn, in []byte) []byte {
			if len(in) == 4 {
				mu.Lock()
				seen = append(seen, binary.BigEndian.Uint32(in))
				mu.Unlock()
			}
			return append([]byte("r"), in...)
		})}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("hold!")) // not 4 bytes: not counted in seen
		waitFor(t, "the first datagram", held.Load)
		for i := 0; i < burst; i++ {
			c.Write(binary.BigEndian.AppendUint32(nil, uint32(i)))
		}
		time.Sleep(20 * time.Millisecond) // all in the server's socket
		close(release)
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "rhold!" {
			t.Fatalf("first reply %q, %v", buf[:n], err)
		}
		for i := 0; i < burst; i++ {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if n != 5 || buf[0] != 'r' || binary.BigEndian.Uint32(buf[1:n]) != uint32(i) {
				t.Fatalf("reply %d is %q, want r and the 4 bytes of %d", i, buf[:n], i)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != burst {
			t.Fatalf("%d Data events for %d datagrams", len(seen), burst)
		}
		for i, v := range seen {
			if v != uint32(i) {
				t.Fatalf("Data %d got datagram %d: out of order", i, v)
			}
		}
	})
}

// TestUDPDatagramSizes: datagrams from 1 byte to the largest UDP carries
// (65,507 bytes over IPv4, 65,527 over IPv6) come whole, one Data each, and
// so do replies of those sizes; in is the callee's to keep (it still
// holds its datagram after the loop has read many others).
func TestUDPDatagramSizes(t *testing.T) {
	forEachDatagramPath(t, func(t *testing.T, e engine) {
		for _, tc := range []struct {
			scheme, host string
			largest      int
		}{{"udp4", "127.0.0.1:0", 65507}, {"udp6", "[::1]:0", 65527}} {
			var mu sync.Mutex
			var kept [][]byte
			events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
				mu.Lock()
				kept = append(kept, in)
				mu.Unlock()
				return in, None
			}}
			s := startServer(t, events, e.addr(tc.scheme, tc.host))
			c := s.dial(0)
			sizes := []int{1, 2, 63, 64, 65, 512, 1472, 1473, 4096, 9000, 16384, 32768, 65000, tc.largest}
			buf := make([]byte, 70000)
			for i, size := range sizes {
				msg := patterned(i, size)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(msg); err != nil {
					t.Fatalf("%s: write %d bytes: %v", tc.scheme, size, err)
				}
				n, err := c.Read(buf)
				if err != nil || !bytes.Equal(buf[:n], msg) {
					t.Fatalf("%s: sent %d bytes, got %d back (%v), first wrong at %d", tc.scheme, size, n, err, checkPatterned(i, buf[:n]))
				}
			}
			// A burst of small ones, read in batches, after the big ones.
			for i := 0; i < 40; i++ {
				c.Write(patterned(100+i, 1+i))
			}
			for i := 0; i < 40; i++ {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil || n != 1+i || checkPatterned(100+i, buf[:n]) >= 0 {
					t.Fatalf("%s: burst reply %d: %d bytes (%v), want %d", tc.scheme, i, n, err, 1+i)
				}
			}
			mu.Lock()
			for i, in := range kept {
				off, want := 0, 0
				if i < len(sizes) {
					off, want = i, sizes[i]
				} else {
					off, want = 100+i-len(sizes), 1+i-len(sizes)
				}
				if len(in) != want || checkPatterned(off, in) >= 0 {
					t.Errorf("%s: the in of Data %d, kept, now holds %d bytes (first wrong at %d), want its %d bytes",
						tc.scheme, i, len(in), checkPatterned(off, in), want)
				}
			}
			mu.Unlock()
			s.Stop()
		}
	})
}

// TestUDPRepliesToManyPeers: the datagrams of many peers read and answered
// in the same batches, interleaved, each reply going to its own sender, and
// to each in the order the peer sent.
func TestUDPRepliesToManyPeers(t *testing.T) {
	forEachDatagramPath(t, func(t *testing.T, e engine) {
		const peers, each = 40, 4
		release := make(chan struct{})
		var held atomic.Bool
		events := Events{
			PreWrite: func() {}, // replies wait for the iteration's flush: one sendmmsg for many peers
			Data: holdFirst(release, &held, func(c Conn, in []byte) []byte {
				return append([]byte(c.RemoteAddr().String()+" "), in...)
			}),
		}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		first := s.dial(0)
		first.Write([]byte("hold"))
		waitFor(t, "the first datagram", held.Load)
		cs := make([]net.Conn, peers)
		for p := range cs {
			cs[p] = s.dial(0)
		}
		for i := 0; i < each; i++ { // interleaved: peer 0, 1, ..., 0, 1, ...
			for p, c := range cs {
				fmt.Fprintf(c, "peer %d message %d", p, i)
			}
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
		buf := make([]byte, 256)
		for p, c := range cs {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := 0; i < each; i++ {
				n, err := c.Read(buf)
				want := fmt.Sprintf("%s peer %d message %d", c.LocalAddr(), p, i)
				if err != nil || string(buf[:n]) != want {
					t.Fatalf("peer %d reply %d: %q (%v), want %q", p, i, buf[:n], err, want)
				}
			}
		}
	})
}

// TestUDPRepliesFromTheReceivingSocket: with two UDP sockets on one loop,
// each datagram is answered from the socket that received it, whatever the
// order the replies were queued in.
func TestUDPRepliesFromTheReceivingSocket(t *testing.T) {
	forEachDatagramPath(t, func(t *testing.T, e engine) {
		release := make(chan struct{})
		var held atomic.Bool
		events := Events{
			PreWrite: func() {},
			Data: holdFirst(release, &held, func(c Conn, in []byte) []byte {
				return append([]byte(fmt.Sprintf("%d ", c.AddrIndex())), in...)
			}),
		}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"), e.addr("udp", "127.0.0.1:0"))
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		to := []*net.UDPAddr{s.addrs[0].(*net.UDPAddr), s.addrs[1].(*net.UDPAddr)}
		pc.WriteTo([]byte("hold"), to[0])
		waitFor(t, "the first datagram", held.Load)
		const each = 30
		for i := 0; i < each; i++ {
			for k := range to {
				pc.WriteTo([]byte(fmt.Sprint(i)), to[k])
			}
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
		next := []int{-1, 0} // the next reply expected from each socket; -1 is "hold"
		buf := make([]byte, 64)
		for got := 0; got < 2*each+1; got++ {
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("after %d replies: %v", got, err)
			}
			k := -1
			for i, a := range to {
				if from.String() == a.String() {
					k = i
				}
			}
			if k < 0 {
				t.Fatalf("reply %q from %v, not a server socket", buf[:n], from)
			}
			want := fmt.Sprintf("%d %d", k, next[k])
			if next[k] < 0 {
				want = fmt.Sprintf("%d hold", k)
			}
			if string(buf[:n]) != want {
				t.Fatalf("from socket %d: %q, want %q", k, buf[:n], want)
			}
			next[k]++
		}
	})
}

// TestUDPOversizeDatagramDropped: a datagram larger than the most Data
// delivers (64 KiB - 1, more than UDP carries; lowered here, so that a
// test can send one) is dropped whole, on every path, not delivered cut
// short; the datagrams around it are served.
func TestUDPOversizeDatagramDropped(t *testing.T) {
	const max = 1000
	withDatagramMax(t, max)
	forEachDatagramPath(t, func(t *testing.T, e engine) {
		var served atomic.Int32
		events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
			served.Add(1)
			return []byte(fmt.Sprint(len(in))), None
		}}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		c := s.dial(0)
		for _, size := range []int{max + 1, 5000, max, 60000, 1} {
			c.Write(make([]byte, size))
		}
		buf := make([]byte, 64)
		for _, want := range []string{fmt.Sprint(max), "1"} {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("reply %q (%v), want %q: an oversize datagram was delivered, or a datagram lost", buf[:n], err, want)
			}
		}
		if n := served.Load(); n != 2 {
			t.Fatalf("%d Data events, want 2", n)
		}
	})
}
