package evio

import "testing"

// forEachDatagramPath runs f as a subtest on each engine, and on the poll
// and io_uring engines once with datagrams moved in batches (recvmmsg and
// sendmmsg, where the system has them) and once one per system call, the
// path of the other systems and of the evio_nommsg build.
func forEachDatagramPath(t *testing.T, f func(t *testing.T, e engine)) {
	t.Helper()
	for _, e := range engines {
		e := e
		if e.name == "std" || !mmsgSupported {
			t.Run(e.name, func(t *testing.T) { f(t, e) })
			continue
		}
		for _, batch := range []bool{true, false} {
			name := e.name + "/batched"
			if !batch {
				name = e.name + "/per-datagram"
			}
			// Servers read the switch when they start; the subtest's own
			// has ended when t.Run returns.
			datagramBatching.Store(batch)
			t.Run(name, func(t *testing.T) { f(t, e) })
			datagramBatching.Store(mmsgSupported)
		}
	}
}

// withDatagramMax lowers the largest datagram delivered, for the servers
// the test starts from now on, until the test ends.
func withDatagramMax(t *testing.T, max int) {
	datagramMaxHook.Store(int32(max))
	t.Cleanup(func() { datagramMaxHook.Store(0) })
}
