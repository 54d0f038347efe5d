//go:build linux

package socket

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestMmsghdrLayout: the Go struct is the kernel's struct mmsghdr, or the
// kernel would read the messages after the first at the wrong offsets.
func TestMmsghdrLayout(t *testing.T) {
	want := uintptr(32)
	if unsafe.Sizeof(uintptr(0)) == 8 {
		want = 64
	}
	if got := unsafe.Sizeof(mmsghdr{}); got != want {
		t.Fatalf("sizeof(mmsghdr) = %d, want %d", got, want)
	}
	if got := unsafe.Offsetof(mmsghdr{}.len); got != unsafe.Sizeof(unix.Msghdr{}) {
		t.Fatalf("msg_len at %d, want right after the msghdr (%d)", got, unsafe.Sizeof(unix.Msghdr{}))
	}
}

// udpPair is a non-blocking raw UDP socket bound on loopback and a peer of
// package net that talks to it.
func udpPair(t *testing.T, network, host string) (fd, family int, peer *net.UDPConn, server *net.UDPAddr) {
	t.Helper()
	family = unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if network == "udp6" {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Skipf("%s loopback: %v", network, err)
	}
	local, err := LocalAddr(fd)
	if err != nil {
		t.Fatal(err)
	}
	server = net.UDPAddrFromAddrPort(local.AddrPort())
	peer, err = net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return fd, family, peer, server
}

// TestMmsgsRoundTrip: Recv takes several datagrams in one call with their
// sizes and sender, flags one larger than its buffer, and Send answers the
// sender from the entries' addresses, in order.
func TestMmsgsRoundTrip(t *testing.T) {
	for _, tc := range []struct{ network, host string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tc.network, func(t *testing.T) {
			fd, family, peer, server := udpPair(t, tc.network, tc.host)
			sizes := []int{1, 100, 1000, 2000} // the last does not fit
			for i, n := range sizes {
				if _, err := peer.WriteToUDP(bytes.Repeat([]byte{byte('a' + i)}, n), server); err != nil {
					t.Fatal(err)
				}
			}
			m := NewMmsgs(8)
			bufs := make([][]byte, m.Len())
			for i := range bufs {
				bufs[i] = make([]byte, 1500)
				m.SetBuf(i, bufs[i])
			}
			var got int
			for tries := 0; got < len(sizes) && tries < 1000; tries++ {
				n, err := m.Recv(fd, m.Len())
				if err == unix.EAGAIN {
					continue // still on its way through loopback
				}
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					size, from, truncated := m.Result(i)
					k := got + i
					want := sizes[k]
					if size != want && !(truncated && size == len(bufs[i])) {
						t.Errorf("datagram %d: %d bytes, want %d", k, size, want)
					}
					if truncated != (want > len(bufs[i])) {
						t.Errorf("datagram %d of %d bytes: truncated = %v", k, want, truncated)
					}
					if bufs[i][0] != byte('a'+k) {
						t.Errorf("datagram %d starts with %q", k, bufs[i][0])
					}
					if from.AddrPort().Port() != uint16(peer.LocalAddr().(*net.UDPAddr).Port) {
						t.Errorf("datagram %d from %v, want %v", k, from.AddrPort(), peer.LocalAddr())
					}
					// The answer: entry i, back to its sender.
					m.SetBuf(i, []byte(fmt.Sprintf("reply %d", k)))
					m.SetAddr(i, from, family)
				}
				for sent := 0; sent < n; {
					s, err := m.Send(fd, sent, n)
					if err != nil {
						t.Fatal(err)
					}
					sent += s
				}
				for i := 0; i < n; i++ {
					m.SetBuf(i, bufs[i])
				}
				got += n
			}
			if got != len(sizes) {
				t.Fatalf("received %d of %d datagrams", got, len(sizes))
			}
			buf := make([]byte, 64)
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			for k := range sizes {
				n, _, err := peer.ReadFromUDP(buf)
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("reply %d", k); string(buf[:n]) != want {
					t.Fatalf("got %q, want %q", buf[:n], want)
				}
			}
		})
	}
}
