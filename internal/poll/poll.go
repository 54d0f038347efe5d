// Package poll is the readiness poller of the event loops: epoll on Linux,
// kqueue on macOS and the BSDs. It only reports readiness; reading, writing
// and the policy of what to watch belong to the caller.
//
// Every operating system file defines the same Poller:
//
//	Open() (*Poller, error)
//	    a poller with its own wakeup (eventfd, EVFILT_USER or a pipe)
//	    already registered.
//	(*Poller).Add(fd, token, Interest) / Modify(fd, token, old, new Interest) / Delete(fd, old Interest)
//	    change what is watched on fd; level-triggered. token is the
//	    caller's 64 bits for this registration, handed back with each of
//	    its events. Errors are *os.SyscallError naming the call.
//	(*Poller).Release(fd)
//	    tells the poller that fd was closed, which stops the watching.
//	(*Poller).Wait(timeout) (n int, err error)
//	    blocks until a descriptor is ready, Wake is called or timeout passes
//	    (a negative timeout waits forever). n counts descriptor events only:
//	    wakeups are consumed inside Wait. EINTR returns 0, nil.
//	(*Poller).Event(i) (token uint64, r Ready)
//	    the i-th event of the last Wait, 0 <= i < n, with the token its
//	    descriptor was registered with when Wait returned.
//	(*Poller).Wake() error
//	    makes a Wait in progress, or the next one, return. Safe from any
//	    goroutine, never blocks, and coalesces: calls made before the
//	    waiting goroutine consumes the wakeup cost nothing more than an
//	    atomic compare. A no-op after Close.
//	(*Poller).Close() error
//
// All methods but Wake and Close must be called from the one goroutine that
// owns the poller.
//
// # Tokens
//
// A descriptor number is reused as soon as it is closed, possibly while
// events of its previous owner are still waiting in the batch a Wait
// returned. The token travels with each event, so the caller can tell the
// two apart (the event loops put a generation in it). epoll keeps the
// token in the event's data word itself. kqueue's user-data field is a
// pointer, which cannot hold an integer safely under Go's garbage
// collector, so the kqueue poller keeps tokens in a table by descriptor and
// reads them as Wait returns: an event of a descriptor closed and
// registered again afterwards still carries the old token.
package poll

// Interest is the set of readiness conditions watched on a descriptor.
type Interest uint8

const (
	// Readable asks to be told when the descriptor has data to read, an
	// incoming connection, an end of file or an error.
	Readable Interest = 1 << iota
	// Writable asks to be told when the descriptor can take more output.
	Writable
)

// Ready is what Wait reported for one descriptor.
type Ready uint8

const (
	readyRead Ready = 1 << iota
	readyWrite
	readyHangup
	readyError
)

// IsReadable reports data, a connection or an end of file to read.
func (r Ready) IsReadable() bool { return r&readyRead != 0 }

// IsWritable reports room for more output.
func (r Ready) IsWritable() bool { return r&readyWrite != 0 }

// IsHangup reports that the peer has closed its side or the connection is
// gone; a read or write tells which.
func (r Ready) IsHangup() bool { return r&readyHangup != 0 }

// IsError reports a pending socket error; a read or write returns it.
func (r Ready) IsError() bool { return r&readyError != 0 }

// maxEvents bounds the events taken by one Wait; more stay queued in the
// kernel for the next one.
const maxEvents = 256
