package main

import (
	"encoding/binary"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSockstat(t *testing.T) {
	in := "sockets: used 2000013\nTCP: inuse 2000002 orphan 0 tw 1915 alloc 2000003 mem 28\nUDP: inuse 0 mem 144\n"
	got, err := parseSockstat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := sockstat{InUse: 2000002, TimeWait: 1915, Alloc: 2000003, MemPages: 28}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"UDP: inuse 0 mem 1\n", "TCP: inuse 2 orphan\n", "TCP: inuse x orphan 0 tw 0 alloc 0 mem 0\n", "TCP: inuse 2 mem 3\n"} {
		if _, err := parseSockstat([]byte(bad)); err == nil {
			t.Errorf("parseSockstat(%q) took it", bad)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:       24684096 kB\nMemAvailable:   23182964 kB\nSlab:             301108 kB\nSReclaimable:     262472 kB\nSUnreclaim:        38636 kB\n"
	got, err := parseMeminfo([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got != (meminfo{MemAvailableKB: 23182964, SlabKB: 301108, SUnreclaimKB: 38636}) {
		t.Fatalf("got %+v", got)
	}
	if _, err := parseMeminfo([]byte("MemTotal: 1 kB\nSlab: 2 kB\n")); err == nil {
		t.Error("meminfo without MemAvailable taken")
	}
}

func TestParseSlabinfo(t *testing.T) {
	in := "slabinfo - version: 2.1\n" +
		"# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables\n" +
		"request_sock_TCP     192    192    320   12    1 : tunables    0    0    0 : slabdata     16     16      0\n" +
		"TCP                  224    312   2368   13    8 : tunables    0    0    0 : slabdata     24     24      0\n" +
		"eventpoll_epi       9271   9728    128   32    1 : tunables    0    0    0 : slabdata    304    304      0\n"
	got := parseSlabinfo([]byte(in), slabCaches)
	if len(got) != 2 || got["TCP"] != 312*2368 || got["eventpoll_epi"] != 9728*128 {
		t.Fatalf("got %v", got)
	}
}

// dirent builds a linux_dirent64 record padded to 8 bytes.
func dirent(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	copy(b[19:], name)
	return b
}

func TestCountDirents(t *testing.T) {
	var b []byte
	for _, n := range []string{".", "..", "0", "1", "1048575", ".x"} {
		b = append(b, dirent(n)...)
	}
	if got := countDirents(b); got != 4 {
		t.Fatalf("countDirents = %d, want 4 (all but . and ..)", got)
	}
	// A truncated record ends the count rather than reading past it.
	if got := countDirents(b[:len(b)-3]); got != 3 {
		t.Fatalf("countDirents on a cut buffer = %d, want 3", got)
	}
}

// TestCountFDs checks getdents counting against the descriptors this
// process opens.
func TestCountFDs(t *testing.T) {
	buf := make([]byte, 4096)
	before, err := countFDs(os.Getpid(), buf)
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for range 300 { // more than one 4 KiB getdents buffer holds
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	after, err := countFDs(os.Getpid(), buf)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != len(fds) {
		t.Fatalf("countFDs grew by %d, want %d", after-before, len(fds))
	}
	socks, err := socketFDs(os.Getpid())
	if err != nil || socks < len(fds) {
		t.Fatalf("socketFDs = %d, %v; want at least %d", socks, err, len(fds))
	}
}

func TestParseDiagMsg(t *testing.T) {
	b := make([]byte, 72)
	b[0], b[1] = unix.AF_INET, tcpListen
	binary.BigEndian.PutUint16(b[4:], 38637)
	copy(b[8:], []byte{127, 0, 0, 1})
	binary.NativeEndian.PutUint32(b[56:], 97)
	binary.NativeEndian.PutUint32(b[60:], 4096)
	q, ok := parseDiagMsg(b)
	if !ok || q.port != 38637 || q.addr != [4]byte{127, 0, 0, 1} || q.queued != 97 || q.limit != 4096 {
		t.Fatalf("got %+v, %v", q, ok)
	}
	if _, ok := parseDiagMsg(b[:60]); ok {
		t.Error("short message taken")
	}
	b[0] = unix.AF_INET6
	if _, ok := parseDiagMsg(b); ok {
		t.Error("IPv6 message taken")
	}
}

// TestDiagQueue reads the accept queue of a real listener holding
// connections it has not accepted.
func TestDiagQueue(t *testing.T) {
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 64); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	for range 3 {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(c)
		if err := unix.Connect(c, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newDiag()
	if err != nil {
		t.Skipf("no sock_diag here: %v", err)
	}
	defer d.close()
	q, err := d.query(port)
	if err != nil {
		t.Fatal(err)
	}
	if q.queued != 3 || q.limit != 64 {
		t.Fatalf("accept queue %d of %d, want 3 of 64", q.queued, q.limit)
	}
	if _, err := d.query(1); err == nil {
		t.Error("a port nobody listens on was found")
	}
}

func TestSrcAddr(t *testing.T) {
	base := uint32(127)<<24 | 1<<16 | 255
	if got := srcAddr(base, 20000, 19999); got != [4]byte{127, 1, 0, 255} {
		t.Errorf("connection 19999: %v", got)
	}
	if got := srcAddr(base, 20000, 20000); got != [4]byte{127, 1, 1, 0} {
		t.Errorf("connection 20000: %v (the carry into the third byte)", got)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"bin/manyconns", "-script", "benchmarks/run.sh million -n 5", "-x", "it's"})
	want := `bin/manyconns -script 'benchmarks/run.sh million -n 5' -x 'it'\''s'`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
