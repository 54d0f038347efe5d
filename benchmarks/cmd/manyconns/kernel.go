package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// What the kernel says about memory and sockets, read from /proc before
// and after the connections are opened.

// sockstat is the TCP line of /proc/net/sockstat: sockets in use (every
// TCP socket of the machine, listeners and both ends of a loopback
// connection included), in TIME_WAIT, allocated, and the pages charged to
// TCP socket buffers (mem, the figure net.ipv4.tcp_mem limits).
type sockstat struct {
	InUse    int64 `json:"inuse"`
	Orphan   int64 `json:"orphan"`
	TimeWait int64 `json:"tw"`
	Alloc    int64 `json:"alloc"`
	MemPages int64 `json:"mem_pages"`
}

// parseSockstat reads the TCP line of /proc/net/sockstat.
func parseSockstat(b []byte) (sockstat, error) {
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f)%2 != 0 {
			return sockstat{}, fmt.Errorf("malformed sockstat line %q", line)
		}
		var s sockstat
		seen := 0
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return sockstat{}, fmt.Errorf("sockstat %s: %v", f[i], err)
			}
			switch f[i] {
			case "inuse":
				s.InUse = v
			case "orphan":
				s.Orphan = v
			case "tw":
				s.TimeWait = v
			case "alloc":
				s.Alloc = v
			case "mem":
				s.MemPages = v
			default:
				continue
			}
			seen++
		}
		if seen < 5 {
			return sockstat{}, fmt.Errorf("sockstat TCP line lacks fields: %q", line)
		}
		return s, nil
	}
	return sockstat{}, errors.New("no TCP line in sockstat")
}

// meminfo holds the lines of /proc/meminfo the run reads, in kB.
type meminfo struct {
	MemAvailableKB int64 `json:"mem_available_kb"`
	SlabKB         int64 `json:"slab_kb"`
	SUnreclaimKB   int64 `json:"sunreclaim_kb"`
}

// parseMeminfo reads MemAvailable, Slab and SUnreclaim.
func parseMeminfo(b []byte) (meminfo, error) {
	var m meminfo
	want := map[string]*int64{"MemAvailable:": &m.MemAvailableKB, "Slab:": &m.SlabKB, "SUnreclaim:": &m.SUnreclaimKB}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if p, ok := want[f[0]]; ok {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return meminfo{}, fmt.Errorf("meminfo %s: %v", f[0], err)
			}
			*p = v
			found++
		}
	}
	if found != len(want) {
		return meminfo{}, errors.New("meminfo lacks MemAvailable, Slab or SUnreclaim")
	}
	return m, nil
}

// slabCaches are the slab caches a TCP connection's sockets live in:
// the socket (TCP), its inode (sock_inode_cache), its file and dentry,
// and the server's epoll entry (eventpoll_epi).
var slabCaches = []string{"TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi"}

// parseSlabinfo returns the bytes held by each cache of names in
// /proc/slabinfo (num_objs × objsize). A cache the kernel merged into
// another is missing from the result.
func parseSlabinfo(b []byte, names []string) map[string]int64 {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !want[f[0]] {
			continue
		}
		objs, err1 := strconv.ParseInt(f[2], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 == nil && err2 == nil {
			out[f[0]] = objs * size
		}
	}
	return out
}

// kernelSnap is what the run reads of the whole machine at one instant.
type kernelSnap struct {
	Sockstat sockstat         `json:"sockstat"`
	Meminfo  meminfo          `json:"meminfo"`
	Slab     map[string]int64 `json:"slab_bytes"`
}

func readKernel() (kernelSnap, error) {
	var k kernelSnap
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return k, err
	}
	if k.Sockstat, err = parseSockstat(b); err != nil {
		return k, err
	}
	if b, err = os.ReadFile("/proc/meminfo"); err != nil {
		return k, err
	}
	if k.Meminfo, err = parseMeminfo(b); err != nil {
		return k, err
	}
	// /proc/slabinfo is readable by root only; without it the run
	// reports the meminfo totals alone.
	if b, err = os.ReadFile("/proc/slabinfo"); err == nil {
		k.Slab = parseSlabinfo(b, slabCaches)
	}
	return k, nil
}

func memAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	m, err := parseMeminfo(b)
	return m.MemAvailableKB << 10, err
}

// countFDs counts the descriptors of process pid with getdents on
// /proc/PID/fd, allocating nothing per entry: at a million descriptors it
// is cheap enough to sample once a second, where reading every link (as
// socketFDs does) is not.
func countFDs(pid int, buf []byte) (int, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd", pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		got, err := unix.Getdents(fd, buf)
		if err != nil {
			return 0, err
		}
		if got == 0 {
			return n, nil
		}
		n += countDirents(buf[:got])
	}
}

// countDirents counts the linux_dirent64 records of b other than "." and
// "..": d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name.
func countDirents(b []byte) int {
	n := 0
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if !bytes.Equal(name, []byte(".")) && !bytes.Equal(name, []byte("..")) {
			n++
		}
		b = b[reclen:]
	}
	return n
}

// socketFDs counts the sockets among pid's descriptors (readlink of each:
// once per run, at a million a second or two).
func socketFDs(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(65536)
		for _, name := range names {
			if target, err := os.Readlink(dir + "/" + name); err == nil && strings.HasPrefix(target, "socket:") {
				n++
			}
		}
		if err != nil || len(names) == 0 {
			return n, nil
		}
	}
}

// diagSock reads, with sock_diag, the accept queue of the TCP listener
// on 127.0.0.1:port: the connections the kernel has established and the
// server has not accepted yet, and the queue's limit (the listen backlog).
// The client's established count minus the queue is what the server has
// accepted, at any instant, for one netlink round trip.
type diagSock struct {
	fd  int
	buf []byte
	seq uint32
}

func newDiag() (*diagSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, err
	}
	return &diagSock{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (d *diagSock) close() { unix.Close(d.fd) }

// tcpListen is TCP_LISTEN of the kernel's include/net/tcp_states.h.
const tcpListen = 10

// diagRequest is a netlink dump request for the IPv4 TCP sockets in
// LISTEN: nlmsghdr (16 bytes) and inet_diag_req_v2 (56 bytes).
func diagRequest(seq uint32) []byte {
	b := make([]byte, 16+56)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	b[16] = unix.AF_INET
	b[17] = unix.IPPROTO_TCP
	ne.PutUint32(b[20:], 1<<tcpListen)
	return b
}

// listenQueue is one listener of a diag answer.
type listenQueue struct {
	port          int
	queued, limit uint32
	addr          [4]byte
}

// parseDiagMsg reads an inet_diag_msg: family, state, timer, retrans
// (a byte each), the socket id (source port and destination port big
// endian, source and destination addresses 16 bytes each, interface,
// cookie), expires, rqueue, wqueue. For a listener rqueue is the accept
// queue's length and wqueue its limit.
func parseDiagMsg(b []byte) (listenQueue, bool) {
	if len(b) < 64 || b[0] != unix.AF_INET {
		return listenQueue{}, false
	}
	var q listenQueue
	q.port = int(binary.BigEndian.Uint16(b[4:6]))
	copy(q.addr[:], b[8:12])
	q.queued = binary.NativeEndian.Uint32(b[56:60])
	q.limit = binary.NativeEndian.Uint32(b[60:64])
	return q, true
}

// query returns the accept queue of the listener on 127.0.0.1:port.
func (d *diagSock) query(port int) (listenQueue, error) {
	d.seq++
	if err := unix.Sendto(d.fd, diagRequest(d.seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return listenQueue{}, err
	}
	var found listenQueue
	ok := false
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err != nil {
			return listenQueue{}, err
		}
		msgs, err := syscall.ParseNetlinkMessage(d.buf[:n])
		if err != nil {
			return listenQueue{}, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				if !ok {
					return found, fmt.Errorf("no TCP listener on 127.0.0.1:%d", port)
				}
				return found, nil
			case unix.NLMSG_ERROR:
				return listenQueue{}, errors.New("sock_diag answered with an error")
			case unix.SOCK_DIAG_BY_FAMILY:
				if q, good := parseDiagMsg(m.Data); good && q.port == port && q.addr == [4]byte{127, 0, 0, 1} {
					found, ok = q, true
				}
			}
		}
	}
}
