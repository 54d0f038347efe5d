package proc

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if !Alive(pid) {
		t.Fatal("this process is not alive")
	}
	before, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUTime(pid)
	if err != nil || after <= before {
		t.Fatalf("CPU time %v then %v (%v) after 50 ms of spinning", before, after, err)
	}
	rss, err := RSS(pid)
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS %d, %v", rss, err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("the free port %d cannot be bound: %v", port, err)
	}
	ln.Close()
	if Alive(1 << 30) {
		t.Fatal("a process that does not exist is alive")
	}
}
