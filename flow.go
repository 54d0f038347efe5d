package evio

// Flow control of a connection: reading paused by the server (PauseRead),
// the output water marks and the Drained event, and the two halves of a
// stream closing apart (HalfClosed, the CloseWrite action). The connection
// core asks wantsRead before every read; these set what it answers.

func (c *conn) PauseRead() {
	if c.origin.datagram || c.ended() || c.flags&flagPaused != 0 {
		return
	}
	c.flags |= flagPaused
	c.loop.markDirty(c) // settle stops watching for input
}

func (c *conn) ResumeRead() {
	if c.origin.datagram || c.ended() || c.flags&flagPaused == 0 {
		return
	}
	c.flags &^= flagPaused
	c.loop.markDirty(c) // settle watches for input again, if it may
}

func (c *conn) QueuedOutput() int { return c.out.Len() }

// fallenBelowLow is settle's first step for a connection whose queue
// reached its high mark: once the queue is below the low mark, reading may
// resume, and Drained fires first, so that a server that stopped producing
// at the high mark carries on before more input arrives. It reports
// whether Drained queued output or ended c, so that c settles again later.
func (l *loop) fallenBelowLow(c *conn) bool {
	if _, low := c.waterMarks(); c.out.Len() >= low {
		return false
	}
	c.flags &^= flagAboveHigh
	if l.server.events.Drained == nil || l.stopping || c.action != pendingNone {
		return false
	}
	out, action, err := l.server.handlers.connEvent("Drained", l.server.events.Drained, c)
	if err != nil {
		l.closeConn(c, err)
		return true
	}
	l.react(c, out, action)
	return c.ended() || c.flags&flagDirty != 0
}

// peerFinished handles the end of c's input stream. With a HalfClosed
// event the connection stays open for the server's output; without one,
// or once the server has shut down its own side, it closes after its
// queued output, as in evio.
func (l *loop) peerFinished(c *conn) {
	c.flags |= flagEOF
	l.markDirty(c) // settle stops watching for input, or closes
	if c.action != pendingNone {
		return
	}
	if c.flags&flagCloseWrite != 0 || l.server.events.HalfClosed == nil {
		c.action = pendingClose
		return
	}
	out, action, err := l.server.handlers.connEvent("HalfClosed", l.server.events.HalfClosed, c)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.react(c, out, action)
}

// closeWrite shuts down c's sending side, its output written (the
// CloseWrite action). It reports whether c is still open: it closes when
// its peer has finished too.
func (l *loop) closeWrite(c *conn) bool {
	if s := c.tlsSession(); s != nil && s.notify() {
		return true // close_notify first: this runs again once it is written
	}
	c.flags |= flagWriteClosed
	if err := l.tp.shutdownWrite(c); err != nil {
		l.closeConn(c, err)
		return false
	}
	if c.flags&flagEOF != 0 {
		l.closeConn(c, nil)
		return false
	}
	return true
}
