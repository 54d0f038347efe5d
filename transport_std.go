package evio

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// stdTransport is the portable engine's transport for one loop. Readiness
// arrives as taskIO in the inbox, posted by the connections' goroutines.
type stdTransport struct {
	l      *loop
	io     *sync.WaitGroup // counts the goroutines the transport starts
	signal chan struct{}   // capacity 1: the inbox went from empty to not empty
	timer  *time.Timer     // poll's timeout
	// datagramSlots holds a token per datagram posted to the loop and not
	// yet served.
	datagramSlots chan struct{}
	// owed is readiness the transport found while being armed (input its
	// reader already holds, room for output): the next poll delivers it
	// without waiting, as a level-triggered poller reports what is still
	// ready. spareOwed is the slice the last poll delivered from.
	owed, spareOwed []owedReady
}

type owedReady struct {
	c *conn
	r ready
}

func newStdTransport(l *loop, io *sync.WaitGroup) *stdTransport {
	t := &stdTransport{
		l:             l,
		io:            io,
		signal:        make(chan struct{}, 1),
		timer:         time.NewTimer(time.Hour),
		datagramSlots: make(chan struct{}, datagramBatch),
	}
	stopTimer(t.timer)
	return t
}

// stopTimer stops t and empties its channel, so that a later Reset starts
// clean whatever timer semantics the program's Go version selects.
func stopTimer(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
}

func (t *stdTransport) poll(timeout time.Duration) error {
	t.wait(timeout)
	t.l.woke()
	t.payOwed()
	return nil
}

// wait blocks until the inbox has tasks or timeout passes; not at all
// while readiness is owed.
func (t *stdTransport) wait(timeout time.Duration) {
	if len(t.owed) > 0 {
		return
	}
	switch {
	case timeout < 0:
		<-t.signal
	case timeout == 0:
		select {
		case <-t.signal:
		default:
		}
	default:
		t.timer.Reset(timeout)
		select {
		case <-t.signal:
		case <-t.timer.C:
		}
		stopTimer(t.timer)
	}
}

// payOwed delivers the readiness found while arming (see arm).
func (t *stdTransport) payOwed() {
	if len(t.owed) > 0 {
		owed := t.owed
		t.owed = t.spareOwed[:0]
		for i, o := range owed {
			owed[i] = owedReady{}
			r := o.r
			if !o.c.ext.stream.readable {
				r &^= readyRead // taken since
			}
			if r != 0 {
				t.l.serve(o.c, r)
			}
		}
		t.spareOwed = owed[:0]
	}
}

func (t *stdTransport) exit() {}

func (t *stdTransport) wake() {
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

func (t *stdTransport) handle(tk *task) {
	if tk.origin != nil { // a datagram
		t.l.serveDatagram(tk.origin, tk.peer, tk.data)
		<-t.datagramSlots
		return
	}
	if tk.c.flags&flagConnecting != 0 {
		t.l.serve(tk.c, tk.ready) // the dialer is done
		return
	}
	// Only the reader posts readyRead, once per stash, and only after
	// the loop took the previous one: so this stash is new.
	s := tk.c.ext.stream
	if tk.ready&readyRead != 0 {
		s.readable = true
	}
	t.l.serve(tk.c, tk.ready)
}

func (t *stdTransport) register(c *conn, want interest) error {
	return t.arm(c, want)
}

// arm starts the reader the first time reading is wanted, and makes the
// transport level-triggered like a poller: input the reader holds, or room
// for output, is reported again when it is asked for.
func (t *stdTransport) arm(c *conn, want interest) error {
	s := c.ext.stream
	if want&wantRead != 0 {
		if !s.readerStarted {
			s.readerStarted = true
			t.io.Add(1)
			go s.readLoop(t.l, c, t.io)
		} else if c.armed&wantRead == 0 && s.readable {
			t.owed = append(t.owed, owedReady{c: c, r: readyRead})
		}
	}
	s.mu.Lock()
	s.wantWritable = want&wantWrite != 0
	idle := len(s.window) == 0 && !s.writing
	s.mu.Unlock()
	if want&wantWrite != 0 && c.armed&wantWrite == 0 && idle {
		t.owed = append(t.owed, owedReady{c: c, r: readyWrite})
	}
	return nil
}

func (t *stdTransport) read(c *conn, p []byte) (int, error) {
	s := c.ext.stream
	if !s.readable {
		return 0, errAgain
	}
	n := copy(p, s.stash)
	err := s.stashErr
	s.stash, s.stashErr = nil, nil
	if err != nil {
		if n > 0 {
			// Data and an error at once: the error comes with the next
			// read, as a socket would stay readable.
			s.stashErr = err
			t.owed = append(t.owed, owedReady{c: c, r: readyRead})
			return n, nil
		}
		s.readable = false
		s.mu.Lock()
		werr := s.werr
		s.mu.Unlock()
		if werr != nil {
			// The writer failed first. The socket reports an error once,
			// so the reader may have seen a plain end of stream after it:
			// the write's error is the connection's.
			return 0, socketError(werr)
		}
		if err == io.EOF {
			return 0, nil
		}
		return 0, socketError(err)
	}
	s.readable = false
	s.ack <- struct{}{} // never blocks: the reader takes each ack before its next post
	return n, nil
}

// stdWindow bounds the output handed to a connection's writer and not yet
// written: the portable engine's socket buffer. It is not counted against
// Options.MaxOutput, as a socket's buffer is not on the poll engine.
const stdWindow = 64 << 10

// writeAside is left to the loop: the connection's writer goroutine owns
// its socket's writes.
func (t *stdTransport) writeAside(c *conn, p []byte) int { return 0 }

func (t *stdTransport) write(c *conn) error {
	s := c.ext.stream
	s.mu.Lock()
	if s.werr != nil {
		err := s.werr
		s.mu.Unlock()
		return socketError(err)
	}
	for room := stdWindow - len(s.window); room > 0 && c.out.Len() > 0; {
		p := c.out.Pending()
		if len(p) > room {
			p = p[:room]
		}
		s.window = append(s.window, p...)
		t.l.wrote(c, len(p))
		room -= len(p)
	}
	kick := !s.writing && len(s.window) > 0
	s.mu.Unlock()
	if !s.writerStarted {
		s.writerStarted = true
		t.io.Add(1)
		go s.writeLoop(t.l, c, t.io)
	}
	if kick {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (t *stdTransport) writtenAt(c *conn) int64 {
	if c.ext.stream == nil {
		return 0 // still connecting
	}
	return c.ext.stream.writtenAt.Load()
}

// connect dials on a goroutine of its own, which reports the end as
// writability.
func (t *stdTransport) connect(c *conn, d *dialState) (bool, error) {
	network, address := d.network, d.address
	if network != "unix" {
		address = d.target.String()
	}
	l := t.l
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel // close ends a connect still in progress
	go func() {
		defer cancel()
		nc, err := (&net.Dialer{Timeout: d.timeout}).DialContext(ctx, network, address)
		d.mu.Lock()
		if d.abandoned {
			d.mu.Unlock()
			if nc != nil {
				nc.Close()
			}
			return
		}
		d.nc, d.err = nc, err
		d.mu.Unlock()
		l.post(task{kind: taskIO, ready: readyWrite, c: c})
	}()
	return false, nil
}

func (t *stdTransport) finishConnect(c *conn) error {
	d := c.ext.dial
	d.mu.Lock()
	nc, err := d.nc, d.err
	d.nc = nil
	d.mu.Unlock()
	if err != nil {
		return err
	}
	c.ext.stream = newStdStream(nc)
	c.addrCache.Store(&connAddrs{local: nc.LocalAddr(), remote: nc.RemoteAddr()})
	return nil
}

func (t *stdTransport) drained(c *conn) bool {
	s := c.ext.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr != nil || (len(s.window) == 0 && !s.writing)
}

// unsettled is socket.Unsettled for a socket of package net; when the
// system cannot tell, it says so, and the connection lingers.
func (t *stdTransport) unsettled(c *conn) bool {
	if !t.drained(c) {
		return true
	}
	sc, ok := c.ext.stream.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	return unsettledRawFunc(raw)
}

// unsettledRawFunc is socket.UnsettledRaw; tests count it.
var unsettledRawFunc = socket.UnsettledRaw

func (t *stdTransport) shutdownWrite(c *conn) error {
	cw, ok := c.ext.stream.nc.(interface{ CloseWrite() error })
	if !ok {
		return errors.New("evio: no half-close on this connection")
	}
	return cw.CloseWrite()
}

func (t *stdTransport) setKeepAlive(c *conn, period time.Duration) {
	if tc, ok := c.ext.stream.nc.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(period)
	}
}

func (t *stdTransport) close(c *conn, reset bool) {
	if c.ext.stream == nil { // still connecting: the dialer closes what it gets
		if d := c.ext.dial; d != nil {
			if d.cancel != nil {
				d.cancel()
			}
			d.mu.Lock()
			d.abandoned = true
			nc := d.nc
			d.nc = nil
			d.mu.Unlock()
			if nc != nil {
				nc.Close()
			}
		}
		return
	}
	if s := c.ext.stream; s.release() {
		if tc, ok := s.nc.(*net.TCPConn); ok && reset {
			tc.SetLinger(0) // close sends RST; best effort, as on the poll engine
		}
		s.nc.Close()
	}
}

// detach stops the reader without losing what it read: a read deadline in
// the past interrupts a read in progress, and whatever the reader took that
// the loop did not is replayed first by the stream Detached gets. The
// writer is idle: the core detaches only once the transport has drained.
func (t *stdTransport) detach(c *conn) (io.ReadWriteCloser, error) {
	s := c.ext.stream
	s.nc.SetReadDeadline(time.Unix(1, 0))
	s.release()
	if s.readerStarted {
		<-s.readerDone
	}
	leftover := append([]byte(nil), s.stash...)
	s.stash, s.stashErr = nil, nil
	s.nc.SetReadDeadline(time.Time{})
	if len(leftover) == 0 {
		return s.nc, nil
	}
	return &replayConn{Conn: s.nc, unread: leftover}, nil
}

func (t *stdTransport) sendTo(o *origin, to socket.Addr, b []byte) {
	o.packet.WriteTo(b, net.UDPAddrFromAddrPort(to.AddrPort()))
}

// localAddr is never needed: the portable engine caches a connection's
// addresses from package net when it opens it.
func (t *stdTransport) localAddr(c *conn) (socket.Addr, bool) {
	return socket.Addr{}, false
}

// stopAccepting has nothing to do: shutdown closes the listeners, which
// ends their accept goroutines (server.onStop).
func (t *stdTransport) stopAccepting() {}

// socketError is what Closed reports for a failed read or write: the bare
// errno when there is one, as the poll engine (and evio) pass it.
func socketError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// stdStream is a connection's goroutine side on the portable engine.
type stdStream struct {
	nc     net.Conn      // immutable
	done   chan struct{} // closed when the connection leaves its loop: its goroutines end
	closed bool          // loop only: done is closed

	// Reader hand-off: the reader writes stash and stashErr, posts a
	// readable task and waits for ack; the loop reads them only after it
	// took that task, and acks once it has copied them.
	stash         []byte
	stashErr      error
	ack           chan struct{} // capacity 1
	readerDone    chan struct{} // closed as the reader exits
	readerStarted bool          // loop only
	readable      bool          // loop only: a stash is waiting

	// Writer hand-off, guarded by mu.
	mu            sync.Mutex
	window        []byte // handed to the writer, not yet written: at most stdWindow
	writing       bool   // the writer holds a batch
	wantWritable  bool   // the loop is armed for writing: post readyWrite on room and when idle
	werr          error  // the writer failed; it has exited
	kick          chan struct{}
	writerStarted bool // loop only
	// writtenAt is when the writer last finished a write (monotime): the
	// idle timeout counts the writer's progress as activity.
	writtenAt atomic.Int64
}

func newStdStream(nc net.Conn) *stdStream {
	return &stdStream{
		nc:         nc,
		done:       make(chan struct{}),
		ack:        make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		kick:       make(chan struct{}, 1),
	}
}

// release lets the connection's goroutines go (they end), once; it reports
// whether this call did it.
func (s *stdStream) release() bool {
	if s.closed {
		return false
	}
	s.closed = true
	close(s.done)
	return true
}

// Reads grow from stdMinRead to readBufferSize while reads fill the buffer,
// so an idle connection's reader holds little memory.
const stdMinRead = 4 << 10

func (s *stdStream) readLoop(l *loop, c *conn, wg *sync.WaitGroup) {
	defer wg.Done()
	defer close(s.readerDone)
	buf := make([]byte, stdMinRead)
	for {
		n, err := s.nc.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		s.stash, s.stashErr = buf[:n], err
		l.post(task{kind: taskIO, ready: readyRead, c: c})
		if err != nil {
			return
		}
		select {
		case <-s.ack:
		case <-s.done:
			return
		}
		if n == len(buf) && len(buf) < readBufferSize {
			buf = make([]byte, 2*len(buf))
		}
	}
}

func (s *stdStream) writeLoop(l *loop, c *conn, wg *sync.WaitGroup) {
	defer wg.Done()
	var spare []byte
	for {
		select {
		case <-s.kick:
		case <-s.done:
			return
		}
		for {
			s.mu.Lock()
			if len(s.window) == 0 {
				s.writing = false
				notify := s.wantWritable
				s.mu.Unlock()
				if notify {
					l.post(task{kind: taskIO, ready: readyWrite, c: c}) // drained
				}
				break
			}
			batch := s.window
			s.window = spare[:0]
			s.writing = true
			notify := s.wantWritable
			s.mu.Unlock()
			if notify {
				l.post(task{kind: taskIO, ready: readyWrite, c: c}) // room: refill while this batch is written
			}
			_, err := s.nc.Write(batch)
			s.writtenAt.Store(monotime())
			if err != nil {
				s.mu.Lock()
				s.werr, s.writing = err, false
				s.mu.Unlock()
				l.post(task{kind: taskIO, ready: readyError, c: c})
				return
			}
			spare = batch[:0]
			if cap(spare) > stdWindow {
				spare = nil
			}
		}
	}
}

// replayConn is a detached connection that first returns the bytes its
// reader took after the Detach was requested.
type replayConn struct {
	net.Conn
	unread []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.unread) > 0 {
		n := copy(p, r.unread)
		r.unread = r.unread[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}
