package evio

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 12*time.Second, "how long each engine's chaos soak runs")
	chaosSeed     = flag.Int64("chaos.seed", 1, "seed of the chaos soak")
	chaosClients  = flag.Int("chaos.clients", 200, "concurrent chaos clients")
)

// The chaos protocol. Client frames: op, payload length (4 bytes), payload,
// CRC-32 of the payload. Server frames: op, sequence number (4 bytes),
// payload length, payload, CRC-32. The server numbers every frame it returns
// on a connection, so the client can tell that nothing was lost,
// duplicated or reordered, and the server keeps a record of how many frames
// it returned, to compare with what arrived.
const (
	opHello  = 'H' // server: the connection's id, first
	opEcho   = 'E' // client: echo this payload; server: the echo
	opPush   = 'P' // client: push this many frames from another goroutine; server: a pushed frame
	opClose  = 'C' // client: reply and close; server: the last frame
	opDetach = 'D' // client: detach; server: the last frame before the handover
)

// chaosRecord is what the server knows of one connection.
type chaosRecord struct {
	mu       sync.Mutex
	returned int // frames returned from events so far
	closes   int // Closed or Detached events
	ended    chan struct{}
	pending  [][]byte // pushed payloads waiting for Data(c, nil)
	gone     atomic.Bool
}

// chaosServer serves the chaos protocol and checks the event invariants.
type chaosServer struct {
	t       *testing.T
	mu      sync.Mutex
	records map[uint32]*chaosRecord
	nextID  uint32
	pushers sync.WaitGroup
	failure atomic.Value // first invariant broken, as a string
}

type chaosConn struct {
	id     uint32
	rec    *chaosRecord
	stream InputStream
	seq    uint32
}

func (s *chaosServer) fail(format string, args ...interface{}) {
	s.failure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
}

func (s *chaosServer) record(id uint32) *chaosRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[id]
}

func appendServerFrame(out []byte, op byte, seq uint32, payload []byte) []byte {
	var hdr [9]byte
	hdr[0] = op
	binary.BigEndian.PutUint32(hdr[1:], seq)
	binary.BigEndian.PutUint32(hdr[5:], uint32(len(payload)))
	out = append(out, hdr[:]...)
	out = append(out, payload...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(payload))
}

func (s *chaosServer) events(numLoops int) Events {
	frame := func(cc *chaosConn, out []byte, op byte, payload []byte) []byte {
		out = appendServerFrame(out, op, cc.seq, payload)
		cc.seq++
		return out
	}
	return Events{
		NumLoops:    numLoops,
		LoadBalance: RoundRobin,
		Opened: func(c Conn) ([]byte, Options, Action) {
			s.mu.Lock()
			s.nextID++
			cc := &chaosConn{id: s.nextID, rec: &chaosRecord{ended: make(chan struct{})}}
			s.records[cc.id] = cc.rec
			s.mu.Unlock()
			c.SetContext(cc)
			var id [4]byte
			binary.BigEndian.PutUint32(id[:], cc.id)
			out := frame(cc, nil, opHello, id[:])
			cc.rec.mu.Lock()
			cc.rec.returned = int(cc.seq)
			cc.rec.mu.Unlock()
			return out, Options{ReuseInputBuffer: cc.id%2 == 0}, None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) {
			cc := c.Context().(*chaosConn)
			var out []byte
			action := None
			if in == nil {
				cc.rec.mu.Lock()
				pushed := cc.rec.pending
				cc.rec.pending = nil
				cc.rec.mu.Unlock()
				for _, p := range pushed {
					out = frame(cc, out, opPush, p)
				}
			}
			data := cc.stream.Begin(in)
			for len(data) >= 5 {
				n := int(binary.BigEndian.Uint32(data[1:5]))
				if len(data) < 5+n+4 {
					break
				}
				op, payload := data[0], data[5:5+n]
				if crc32.ChecksumIEEE(payload) != binary.BigEndian.Uint32(data[5+n:]) {
					s.fail("connection %d: a client frame arrived corrupted", cc.id)
					return nil, Close
				}
				data = data[5+n+4:]
				switch op {
				case opEcho:
					out = frame(cc, out, opEcho, payload)
				case opPush:
					s.startPusher(c, cc, int(binary.BigEndian.Uint32(payload)))
				case opClose:
					out = frame(cc, out, opClose, nil)
					action = Close
				case opDetach:
					out = frame(cc, out, opDetach, nil)
					action = Detach
				default:
					s.fail("connection %d: unknown op %q", cc.id, op)
					return nil, Close
				}
				if action != None {
					break
				}
			}
			cc.stream.End(data)
			cc.rec.mu.Lock()
			cc.rec.returned = int(cc.seq)
			cc.rec.mu.Unlock()
			return out, action
		},
		Closed: func(c Conn, err error) Action {
			s.end(c.Context().(*chaosConn))
			return None
		},
		Detached: func(c Conn, rwc io.ReadWriteCloser) Action {
			s.end(c.Context().(*chaosConn))
			rwc.Close()
			return None
		},
	}
}

// end records a Closed or Detached: exactly one per connection.
func (s *chaosServer) end(cc *chaosConn) {
	cc.rec.mu.Lock()
	cc.rec.closes++
	n := cc.rec.closes
	cc.rec.mu.Unlock()
	if n != 1 {
		s.fail("connection %d: %d Closed/Detached events", cc.id, n)
		return
	}
	cc.rec.gone.Store(true)
	close(cc.rec.ended)
}

// startPusher pushes n frames to c from another goroutine, with Wake.
func (s *chaosServer) startPusher(c Conn, cc *chaosConn, n int) {
	s.pushers.Add(1)
	go func() {
		defer s.pushers.Done()
		rng := rand.New(rand.NewSource(int64(cc.id)))
		for i := 0; i < n && !cc.rec.gone.Load(); i++ {
			payload := randomBytes(rng, rng.Intn(2048))
			cc.rec.mu.Lock()
			cc.rec.pending = append(cc.rec.pending, payload)
			cc.rec.mu.Unlock()
			c.Wake()
			if rng.Intn(4) == 0 {
				time.Sleep(time.Duration(rng.Intn(2000)) * time.Microsecond)
			}
		}
	}()
}

// TestChaos runs hundreds of clients doing random things against one
// server per engine: fragmented writes from 1 byte to 1 MiB, pipelined
// bursts, half-closes, resets, Close and Detach requests, reconnects and
// pushes from other goroutines. Every frame the server returned must arrive
// once and in order; every connection gets exactly one Closed or Detached;
// nothing leaks. -chaos.duration, -chaos.seed and -chaos.clients tune it.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos soak takes a while; run without -short")
	}
	forEachEngine(t, func(t *testing.T, e engine) {
		seed := *chaosSeed
		t.Logf("seed %d, %d clients, %v (rerun with -chaos.seed=%d)", seed, *chaosClients, *chaosDuration, seed)
		fdsBefore := openDescriptors()
		cs := &chaosServer{t: t, records: map[uint32]*chaosRecord{}}
		path := unixPath(t)
		s := startServer(t, cs.events(2), e.addr("tcp", "127.0.0.1:0"), e.addr("unix", path))

		deadline := time.Now().Add(*chaosDuration)
		var clients sync.WaitGroup
		var sessions, verified atomic.Int64
		errs := make(chan error, *chaosClients)
		for i := 0; i < *chaosClients; i++ {
			clients.Add(1)
			go func(i int) {
				defer clients.Done()
				rng := rand.New(rand.NewSource(seed*1000 + int64(i)))
				for time.Now().Before(deadline) {
					sessions.Add(1)
					ok, err := chaosSession(rng, s.addrs[rng.Intn(2)], cs)
					if err != nil {
						errs <- fmt.Errorf("client %d (seed %d): %w", i, seed, err)
						return
					}
					if ok {
						verified.Add(1)
					}
				}
			}(i)
		}
		clients.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if f := cs.failure.Load(); f != nil {
			t.Fatalf("server invariant broken (seed %d): %s", seed, f)
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		cs.pushers.Wait()
		for id, rec := range cs.records {
			rec.mu.Lock()
			closes := rec.closes
			rec.mu.Unlock()
			if closes != 1 {
				t.Fatalf("connection %d got %d Closed/Detached events, want 1 (seed %d)", id, closes, seed)
			}
		}
		if fdsBefore >= 0 {
			waitFor(t, "descriptors to be released", func() bool { return openDescriptors() <= fdsBefore })
		}
		t.Logf("%d sessions, %d verified end to end, %d connections", sessions.Load(), verified.Load(), len(cs.records))
		if verified.Load() == 0 {
			t.Fatal("no session was verified end to end")
		}
	})
}

// openDescriptors counts this process's open descriptors, or -1 where
// /proc is not there.
func openDescriptors() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// chaosSession runs one connection doing random things. It reports whether
// the connection's whole output was checked against the server's record
// (sessions that reset the connection cannot be).
func chaosSession(rng *rand.Rand, addr net.Addr, cs *chaosServer) (verified bool, err error) {
	c, err := net.DialTimeout(addr.Network(), addr.String(), 10*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))

	// Build the whole client stream first, then send it in random pieces.
	var stream []byte
	var echoes []uint32 // CRCs of the payloads to be echoed, in order
	ending := rng.Intn(10)
	frames := 1 + rng.Intn(30)
	for i := 0; i < frames; i++ {
		var op byte = opEcho
		var payload []byte
		switch r := rng.Intn(40); {
		case r < 2:
			op = opPush
			payload = binary.BigEndian.AppendUint32(nil, uint32(1+rng.Intn(200)))
		case r == 2:
			payload = randomBytes(rng, rng.Intn(1<<20)) // a large one
		default:
			payload = randomBytes(rng, rng.Intn(4096))
		}
		if op == opEcho {
			echoes = append(echoes, crc32.ChecksumIEEE(payload))
		}
		stream = appendClientFrame(stream, op, payload)
	}
	var last byte
	switch ending {
	case 0:
		last = opClose
	case 1:
		last = opDetach
	}
	if last != 0 {
		stream = appendClientFrame(stream, last, nil)
	}
	reset := ending == 2 || ending == 3

	// Read and check concurrently with writing.
	type result struct {
		id     uint32
		frames int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		id, n, err := readChaosFrames(bufio.NewReaderSize(c, 64<<10), echoes, last)
		done <- result{id, n, err}
	}()
	cut := len(stream)
	if reset {
		cut = rng.Intn(len(stream) + 1)
	}
	for rest := stream[:cut]; len(rest) > 0; {
		n := 1 + rng.Intn(len(rest))
		if rng.Intn(3) > 0 && n > 4096 {
			n = 1 + rng.Intn(4096) // mostly small pieces, sometimes up to 1 MiB
		}
		if _, err := c.Write(rest[:n]); err != nil {
			if last != 0 {
				break // the server may close once it has read the last frame
			}
			return false, fmt.Errorf("write: %w", err)
		}
		rest = rest[n:]
		if rng.Intn(8) == 0 {
			time.Sleep(time.Duration(rng.Intn(500)) * time.Microsecond)
		}
	}
	if reset {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with a reset
		}
		c.Close()
		<-done
		return false, nil
	}
	if last == 0 {
		// Half-close: the server answers everything, then closes.
		c.(interface{ CloseWrite() error }).CloseWrite()
	}
	r := <-done
	if r.err != nil {
		return false, r.err
	}
	// Everything the server returned on this connection arrived.
	rec := cs.record(r.id)
	if rec == nil {
		return false, fmt.Errorf("hello named connection %d, which the server does not know", r.id)
	}
	select {
	case <-rec.ended:
	case <-time.After(10 * time.Second):
		return false, fmt.Errorf("connection %d: no Closed or Detached 10s after the client saw it end", r.id)
	}
	rec.mu.Lock()
	returned := rec.returned
	rec.mu.Unlock()
	if returned != r.frames {
		return false, fmt.Errorf("connection %d: server returned %d frames, %d arrived", r.id, returned, r.frames)
	}
	return true, nil
}

// randomPool is random data that payloads are cut from: generating fresh
// random bytes for every payload would dominate the test's time under -race.
var randomPool = func() []byte {
	b := make([]byte, 2<<20)
	rand.New(rand.NewSource(42)).Read(b)
	return b
}()

func randomBytes(rng *rand.Rand, n int) []byte {
	off := rng.Intn(len(randomPool) - n + 1)
	return randomPool[off : off+n]
}

func appendClientFrame(out []byte, op byte, payload []byte) []byte {
	out = append(out, op)
	out = binary.BigEndian.AppendUint32(out, uint32(len(payload)))
	out = append(out, payload...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(payload))
}

// readChaosFrames reads server frames until EOF and checks them: sequence
// numbers consecutive from 0, checksums right, echoes in the order sent,
// and the last frame the one the session asked for.
func readChaosFrames(r *bufio.Reader, echoes []uint32, last byte) (id uint32, frames int, err error) {
	var hdr [9]byte
	var lastOp byte
	for seq := uint32(0); ; seq++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				if len(echoes) != 0 {
					return id, int(seq), fmt.Errorf("connection %d ended with %d echoes missing", id, len(echoes))
				}
				if last != 0 && lastOp != last {
					return id, int(seq), fmt.Errorf("connection %d: last frame was %q, want %q", id, lastOp, last)
				}
				return id, int(seq), nil
			}
			return id, int(seq), fmt.Errorf("connection %d: reading frame %d: %w", id, seq, err)
		}
		op, got := hdr[0], binary.BigEndian.Uint32(hdr[1:])
		if got != seq {
			return id, int(seq), fmt.Errorf("connection %d: frame %d arrived when %d was due: lost, duplicated or reordered output", id, got, seq)
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[5:])+4)
		if _, err := io.ReadFull(r, payload); err != nil {
			return id, int(seq), fmt.Errorf("connection %d: reading frame %d: %w", id, seq, err)
		}
		body := payload[:len(payload)-4]
		sum := crc32.ChecksumIEEE(body)
		if sum != binary.BigEndian.Uint32(payload[len(payload)-4:]) {
			return id, int(seq), fmt.Errorf("connection %d: frame %d corrupted", id, seq)
		}
		if seq == 0 {
			if op != opHello || len(body) != 4 {
				return 0, 0, fmt.Errorf("first frame is %q, want the hello", op)
			}
			id = binary.BigEndian.Uint32(body)
		}
		if op == opEcho {
			if len(echoes) == 0 || echoes[0] != sum {
				return id, int(seq), fmt.Errorf("connection %d: echo frame %d does not match the next payload sent", id, seq)
			}
			echoes = echoes[1:]
		}
		lastOp = op
	}
}
