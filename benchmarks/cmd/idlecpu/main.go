// Command idlecpu measures what idle connections cost an evio server in
// CPU time per second of wall time, with and without per-connection
// timeouts (an idle timeout and a read deadline each). The issue it
// answers: timeouts must not make idle connections cost CPU, because the
// loop sleeps until its earliest timer and a connection's timer entry is
// touched once per timeout, not per check.
//
//	go run ./cmd/idlecpu -conns 100000 -window 10s
//
// The server runs in this process and the clients in child processes (this
// program again), each holding up to 15,000 connections that never send or
// read; the process's CPU time (getrusage) over the window is the
// server's alone. Connections come from several loopback source addresses,
// as one has only about 28,000 ephemeral ports. The server needs one
// descriptor per connection: where the hard open-file limit is lower than
// -conns, it says so and stops.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evio-go/evio"
)

func main() {
	conns := flag.Int("conns", 100000, "idle connections")
	window := flag.Duration("window", 10*time.Second, "how long to measure each case")
	loops := flag.Int("loops", 1, "event loops")
	client := flag.String("client", "", "internal: run as a client process of the server at this address")
	first := flag.Int("first", 0, "internal: the client process's first connection number")
	srcBase := flag.Int("src", 2, "internal: the last byte of the client process's first source address")
	flag.Parse()
	if *client != "" {
		raiseFileLimit(*conns + 100)
		holdClients(*client, *srcBase, *first, *conns)
		return
	}
	raiseFileLimit(*conns + 100)
	for i, timeouts := range []bool{false, true} {
		// Each case dials from addresses of its own: the last case's
		// ports wait in TIME_WAIT.
		cpu, opened := measure(*conns, *loops, *window, timeouts, 2+i*(*conns/20000+1))
		fmt.Printf("timeouts=%-5v conns=%d loops=%d window=%v: %.3f ms CPU per second (%d opened)\n",
			timeouts, *conns, *loops, *window, cpu, opened)
	}
}

// measure serves conns idle connections and returns the process's CPU
// milliseconds per second of wall time over window, once they are open.
func measure(conns, loops int, window time.Duration, timeouts bool, src int) (float64, int64) {
	var opened atomic.Int64
	var addr atomic.Value
	stop := make(chan struct{})
	events := evio.Events{
		NumLoops: loops,
		Serving: func(s evio.Server) evio.Action {
			addr.Store(s.Addrs[0].String())
			return evio.None
		},
		Opened: func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
			opened.Add(1)
			var opts evio.Options
			if timeouts {
				// Timeouts far beyond the window: set, never reached.
				opts.IdleTimeout = time.Hour
				c.SetReadDeadline(time.Now().Add(2 * time.Hour))
			}
			return nil, opts, evio.None
		},
		Tick: func() (time.Duration, evio.Action) {
			select {
			case <-stop:
				return 0, evio.Shutdown
			default:
				return 100 * time.Millisecond, evio.None
			}
		},
	}
	done := make(chan error, 1)
	go func() { done <- evio.Serve(events, "tcp://127.0.0.1:0") }()
	for addr.Load() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	clients := startClients(addr.Load().(string), src, conns)
	for opened.Load() < int64(conns) {
		time.Sleep(10 * time.Millisecond)
	}
	// Collect now what dialing, and the previous case, left behind: a
	// collection inside the window would be charged to this case.
	runtime.GC()
	time.Sleep(time.Second)

	start, startCPU := time.Now(), cpuTime()
	time.Sleep(window)
	cpu := cpuTime() - startCPU
	wall := time.Since(start)

	for _, c := range clients {
		c.Process.Kill()
		c.Wait()
	}
	close(stop)
	<-done
	return float64(cpu) / float64(time.Millisecond) / wall.Seconds(), opened.Load()
}

// perClient is the number of connections one client process holds.
const perClient = 15000

// startClients starts client processes holding n connections to addr,
// from source addresses starting at 127.0.0.src.
func startClients(addr string, src, n int) []*exec.Cmd {
	var procs []*exec.Cmd
	for first := 0; first < n; first += perClient {
		count := n - first
		if count > perClient {
			count = perClient
		}
		cmd := exec.Command(os.Args[0], "-client", addr, "-src", strconv.Itoa(src), "-first", strconv.Itoa(first), "-conns", strconv.Itoa(count))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	return procs
}

// holdClients opens n connections, numbered from first, and keeps them
// until the process is killed.
func holdClients(addr string, src, first, n int) {
	clients := dialAll(addr, src, first, n)
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(clients)
	}
}

// dialAll opens n connections to addr, numbered from first, from
// 127.0.0.src, 127.0.0.src+1, ..., 20,000 per source address.
func dialAll(addr string, src, first, n int) []net.Conn {
	clients := make([]net.Conn, n)
	var wg sync.WaitGroup
	const workers = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ip := net.IPv4(127, 0, 0, byte(src+(first+i)/20000))
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					log.Fatalf("dial %d: %v", i, err)
				}
				clients[i] = c
			}
		}(w)
	}
	wg.Wait()
	return clients
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseFileLimit raises the soft open-file limit to n, or stops if the
// hard limit is lower.
func raiseFileLimit(n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Fatal(err)
	}
	if lim.Cur >= uint64(n) {
		return
	}
	lim.Cur = uint64(n)
	if lim.Max < lim.Cur {
		lim.Max = lim.Cur
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Fatalf("raising the open-file limit to %d: %v (the hard limit is lower: raise it, as root, or pass a smaller -conns)", n, err)
	}
}
