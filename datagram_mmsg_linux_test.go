//go:build linux && !evio_nommsg

package evio

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// TestDatagramSendGroupsBySocket: the replies of one flush, queued for two
// sockets interleaved and more than one sendmmsg holds, leave each from
// its own socket, to its own peer, in the order they were queued; one the
// kernel refuses (port 0: EINVAL) is dropped and the rest go on.
func TestDatagramSendGroupsBySocket(t *testing.T) {
	origins := make([]*origin, 2)
	peers := make([]*net.UDPConn, 2)
	for i := range origins {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		origins[i] = &origin{fd: fd, family: unix.AF_INET, datagram: true}
		if peers[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
		defer peers[i].Close()
	}
	l := &loop{}
	l.dgram.on = true
	const each = 100 // more than datagramBatch per socket
	bad := socket.AddrFromNet(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	for i := 0; i < each; i++ {
		for k, o := range origins {
			if k == 0 && i == each/2 {
				l.replies.add(o, bad, []byte("refused"))
			}
			l.replies.add(o, socket.AddrFromNet(peers[k].LocalAddr()), []byte(fmt.Sprintf("%d:%d", k, i)))
		}
	}
	l.sendReplies()
	if !l.replies.empty() {
		t.Fatal("replies still queued after sendReplies")
	}
	buf := make([]byte, 64)
	for k, p := range peers {
		from, _ := socket.LocalAddr(origins[k].fd)
		p.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := 0; i < each; i++ {
			n, a, err := p.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("peer %d, reply %d: %v", k, i, err)
			}
			if want := fmt.Sprintf("%d:%d", k, i); string(buf[:n]) != want {
				t.Fatalf("peer %d got %q, want %q", k, buf[:n], want)
			}
			if a.AddrPort() != from.AddrPort() {
				t.Fatalf("peer %d: reply from %v, want its socket %v", k, a, from.AddrPort())
			}
		}
	}
}
