//go:build !linux || evio_nommsg

package evio

// mmsgSupported: only Linux has recvmmsg and sendmmsg (the BSDs that have
// them differ); elsewhere, and with the evio_nommsg build tag, every
// datagram costs one recvfrom and one sendto.
const mmsgSupported = false

// datagramIO is empty here: on is never set, so read and send never run.
type datagramIO struct {
	on, deferred bool
}

func (d *datagramIO) read(l *loop, o *origin) {}
func (d *datagramIO) send(l *loop)            {}
