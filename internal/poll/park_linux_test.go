package poll

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitParksInRuntime: on Linux the poller waits in Go's own poller
// (parkInRuntime): the registration is active, a Wait with nothing ready
// returns when its timeout passes (not before, and not much after), an
// event that arrives while it is parked ends it with that event, and a
// timeout of zero only peeks.
func TestWaitParksInRuntime(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.file == nil {
		t.Fatal("the epoll descriptor was not registered with Go's poller")
	}
	a, peer := socketPair(t)
	if err := p.Add(a, 7, Readable); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	n, err := p.Wait(30 * time.Millisecond)
	if took := time.Since(start); err != nil || n != 0 || took < 30*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Wait(30ms) with nothing ready = %d, %v after %v", n, err, took)
	}
	if n, err := p.Wait(0); err != nil || n != 0 {
		t.Fatalf("Wait(0) with nothing ready = %d, %v", n, err)
	}

	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(peer, []byte("x"))
	}()
	n, err = p.Wait(-1) // a deadline set by the timed Wait must not linger
	if err != nil || n != 1 {
		t.Fatalf("Wait(-1) while the peer writes = %d, %v; want one event", n, err)
	}
	if token, r := p.Event(0); token != 7 || !r.IsReadable() {
		t.Fatalf("event %d %v, want token 7 readable", token, r)
	}
	// Level-triggered: unread, it is reported again at once.
	if n, err := p.Wait(0); err != nil || n != 1 {
		t.Fatalf("Wait(0) with input unread = %d, %v; want the event again", n, err)
	}
}

// TestParkedWaitLosesNoWakeup: every Wake ends a Wait(-1), however close
// it comes to the instant the loop parks. Parking once trusted a peek made
// before the runtime cleared its record of readiness, and a wakeup in
// between was lost for good (the loop slept with a task in its inbox).
func TestParkedWaitLosesNoWakeup(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const rounds = 20000
	woken := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < rounds; i++ {
			<-woken
			// Vary the moment: at once, after a yield, after spinning.
			switch i % 3 {
			case 1:
				runtime.Gosched()
			case 2:
				for j := 0; j < i%200; j++ {
					_ = j
				}
			}
			p.Wake()
		}
	}()
	for i := 0; i < rounds; i++ {
		woken <- struct{}{}
		result := make(chan error, 1)
		go func() { _, err := p.Wait(-1); result <- err }()
		select {
		case err := <-result:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a Wake did not end the Wait", i)
		}
	}
	<-done
}
