//go:build !race && linux && !evio_nommsg

package evio

import (
	"net"
	"testing"
)

// udpRoundTripAllocs is what one UDP echo round trip allocates, server
// and client, once warm, on engine e with the batching switch as given.
func udpRoundTripAllocs(t *testing.T, e engine, batch bool) float64 {
	datagramBatching.Store(batch)
	defer datagramBatching.Store(mmsgSupported)
	s := startServer(t, Events{Data: func(c Conn, in []byte) ([]byte, Action) { return in, None }}, e.addr("udp", "127.0.0.1:0"))
	c, err := net.Dial("udp", s.addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		roundTrip()
	}
	return testing.AllocsPerRun(1000, roundTrip)
}

// TestUDPBatchedPathAllocations: a UDP round trip on the batched path
// allocates the sender's Conn and the copy of in, which the callee may keep
// (Wake and AfterFunc work on a retained Conn, so it is a heap object of
// its own), and nothing else: no socket address for recvfrom's sender or
// sendto's destination, as the per-datagram path allocates.
func TestUDPBatchedPathAllocations(t *testing.T) {
	for _, e := range []engine{{"poll", ""}, {"uring", "-uring"}} {
		t.Run(e.name, func(t *testing.T) {
			batched := udpRoundTripAllocs(t, e, true)
			perDatagram := udpRoundTripAllocs(t, e, false)
			t.Logf("allocations per round trip: batched %.2f, per datagram %.2f", batched, perDatagram)
			// The test server's Tick may fire during the run; allow for it.
			if batched > 2.01 {
				t.Fatalf("a batched round trip allocates %.2f times, want 2 (the Conn and in)", batched)
			}
		})
	}
}
