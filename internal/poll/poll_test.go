//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package poll

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// TestEventsCarryTheirToken: each event comes back with the token its
// descriptor was registered (or modified) with.
func TestEventsCarryTheirToken(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, peerA := socketPair(t)
	b, peerB := socketPair(t)
	const tokenA, tokenB = 0xdeadbeef_00000001, 0x00000007_ffffffff
	if err := p.Add(a, tokenA, Readable); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(b, 1, Readable); err != nil {
		t.Fatal(err)
	}
	if err := p.Modify(b, tokenB, Readable, Readable|Writable); err != nil {
		t.Fatal(err)
	}
	unix.Write(peerA, []byte("x"))
	unix.Write(peerB, []byte("y"))
	got := map[uint64]Ready{}
	for deadline := time.Now().Add(5 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		n, err := p.Wait(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			token, r := p.Event(i)
			got[token] |= r
		}
	}
	if !got[tokenA].IsReadable() || got[tokenA].IsWritable() {
		t.Fatalf("token A's events: %v (all: %v)", got[tokenA], got)
	}
	if !got[tokenB].IsReadable() || !got[tokenB].IsWritable() {
		t.Fatalf("token B's events: %v (all: %v)", got[tokenB], got)
	}
	if len(got) != 2 {
		t.Fatalf("events carried tokens %v, want only A's and B's", got)
	}
}

// TestWakeInterruptsWait: a Wake from another goroutine ends a Wait that
// would block forever, and is not reported as an event.
func TestWakeInterruptsWait(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() {
		time.Sleep(10 * time.Millisecond)
		p.Wake()
	}()
	n, err := p.Wait(-1)
	if err != nil || n != 0 {
		t.Fatalf("Wait after Wake = %d, %v; want 0, nil", n, err)
	}
}
