package evio

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

func TestDbgClose(t *testing.T) {
	reply := bytes.Repeat([]byte("r"), 4<<20)
	var once sync.Once
	events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
		var out []byte
		once.Do(func() { out = reply })
		if out == nil {
			return nil, None
		}
		return out, Close
	}, Closed: func(c Conn, err error) Action { t.Logf("closed %v", err); return None }}
	s := startServer(t, events, "tcp-net://127.0.0.1:0")
	c := s.dial(0)
	stop := make(chan struct{})
	go func() {
		chunk := bytes.Repeat([]byte("w"), 1024)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	got := readAllWithin(t, c, 20*time.Second)
	close(stop)
	t.Logf("got %d", len(got))
}
