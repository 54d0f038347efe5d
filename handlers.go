package evio

import (
	"io"
	"runtime/debug"
	"time"
)

// handlers calls the user's events for both engines: a nil event is a no-op,
// and a panic becomes a *PanicError returned to the engine, unless
// Events.NoRecover lets it crash the program.
type handlers struct {
	events Events
}

// recoverAs turns a panic into *err. It must be deferred directly, so that
// its recover call sees the panic.
func recoverAs(event string, err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Event: event, Value: r, Stack: debug.Stack()}
	}
}

func (h *handlers) serving(s Server) (action Action, err error) {
	if h.events.Serving == nil {
		return None, nil
	}
	if !h.events.NoRecover {
		defer recoverAs("Serving", &err)
	}
	return h.events.Serving(s), nil
}

func (h *handlers) opened(c Conn) (out []byte, opts Options, action Action, err error) {
	if h.events.Opened == nil {
		return nil, Options{}, None, nil
	}
	if !h.events.NoRecover {
		defer recoverAs("Opened", &err)
	}
	out, opts, action = h.events.Opened(c)
	return out, opts, action, nil
}

func (h *handlers) data(c Conn, in []byte) (out []byte, action Action, err error) {
	if h.events.Data == nil {
		return nil, None, nil
	}
	if !h.events.NoRecover {
		defer recoverAs("Data", &err)
	}
	out, action = h.events.Data(c, in)
	return out, action, nil
}

// connEvent fires an event of a connection that returns output and an
// action, as Drained, HalfClosed and the functions of timers do; event
// names it in a *PanicError.
func (h *handlers) connEvent(event string, f func(Conn) ([]byte, Action), c Conn) (out []byte, action Action, err error) {
	if f == nil {
		return nil, None, nil
	}
	if !h.events.NoRecover {
		defer recoverAs(event, &err)
	}
	out, action = f(c)
	return out, action, nil
}

func (h *handlers) timer(f func() ([]byte, Action)) (out []byte, action Action, err error) {
	if !h.events.NoRecover {
		defer recoverAs("Timer", &err)
	}
	out, action = f()
	return out, action, nil
}

// closed fires Closed. The connection is gone already, so a panic in it has
// nowhere to go: it is recovered and dropped.
func (h *handlers) closed(c Conn, cause error) (action Action) {
	if h.events.Closed == nil {
		return None
	}
	if !h.events.NoRecover {
		var ignored error
		defer recoverAs("Closed", &ignored)
	}
	return h.events.Closed(c, cause)
}

// detached fires Detached; like Closed, a panic in it is dropped.
func (h *handlers) detached(c Conn, rwc io.ReadWriteCloser) (action Action) {
	if !h.events.NoRecover {
		var ignored error
		defer recoverAs("Detached", &ignored)
	}
	return h.events.Detached(c, rwc)
}

func (h *handlers) preWrite() (err error) {
	if h.events.PreWrite == nil {
		return nil
	}
	if !h.events.NoRecover {
		defer recoverAs("PreWrite", &err)
	}
	h.events.PreWrite()
	return nil
}

func (h *handlers) tick() (delay time.Duration, action Action, err error) {
	if !h.events.NoRecover {
		defer recoverAs("Tick", &err)
	}
	delay, action = h.events.Tick()
	return delay, action, nil
}
