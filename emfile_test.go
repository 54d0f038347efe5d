//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() { childMains["emfile"] = runEMFILEChild }

// emfileEngineEnv tells the emfile child which engine to run.
const emfileEngineEnv = "EVIO_EMFILE_ENGINE"

// emfileLimit is the child's RLIMIT_NOFILE: room for the runtime and a few
// dozen connections.
const emfileLimit = 48

// runEMFILEChild serves echo on a free port with at most emfileLimit
// descriptors, prints "ADDR host:port", and shuts down when stdin closes.
func runEMFILEChild() int {
	suffix := os.Getenv(emfileEngineEnv)
	lim := unix.Rlimit{Cur: emfileLimit, Max: emfileLimit}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("ERROR setrlimit:", err)
		return 1
	}
	var stop atomic.Bool
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	err := Serve(Events{
		Serving: func(s Server) Action {
			fmt.Printf("ADDR %s\n", s.Addrs[0])
			return None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
		Tick: func() (time.Duration, Action) {
			if stop.Load() {
				return 0, Shutdown
			}
			return 20 * time.Millisecond, None
		},
	}, "tcp"+suffix+"://127.0.0.1:0")
	fmt.Printf("SERVE-RETURNED %v\n", err)
	if err != nil {
		return 1
	}
	return 0
}

// TestAcceptSurvivesEMFILE runs a server whose descriptors run out: it must
// keep serving the connections it has, not spin while it cannot accept, and
// accept the waiting ones once descriptors are free again (evio and gnet
// shut the whole server down here).
func TestAcceptSurvivesEMFILE(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		cmd, stdin, out := startChild(t, "emfile", emfileEngineEnv+"="+e.suffix)
		exited := false
		defer func() {
			if !exited {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}()
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ADDR ") {
			t.Fatalf("child did not report its address: %q, %v", line, err)
		}
		addr := strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))

		echoes := func(c net.Conn, within time.Duration) bool {
			c.SetDeadline(time.Now().Add(within))
			if _, err := c.Write([]byte("ping\n")); err != nil {
				return false
			}
			buf := make([]byte, 5)
			_, err := io.ReadFull(c, buf)
			return err == nil && string(buf) == "ping\n"
		}

		// Connect until the server stops answering: it is out of descriptors
		// and the rest wait in the listen backlog.
		var served []net.Conn
		var waiting []net.Conn
		defer func() {
			for _, c := range append(served, waiting...) {
				c.Close()
			}
		}()
		for len(waiting) == 0 {
			if len(served) > emfileLimit {
				t.Fatalf("served %d connections under a limit of %d descriptors", len(served), emfileLimit)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if echoes(c, 500*time.Millisecond) {
				served = append(served, c)
			} else {
				waiting = append(waiting, c)
			}
		}
		if len(served) < 10 {
			t.Fatalf("only %d connections served before EMFILE", len(served))
		}
		// A connect storm on top: 40 more at once, all left waiting.
		storm := make(chan net.Conn, 40)
		var dials sync.WaitGroup
		for i := 0; i < cap(storm); i++ {
			dials.Add(1)
			go func() {
				defer dials.Done()
				if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
					storm <- c
				}
			}()
		}
		dials.Wait()
		close(storm)
		for c := range storm {
			waiting = append(waiting, c)
		}
		if len(waiting) < 20 {
			t.Fatalf("only %d of the storm's connections were queued", len(waiting))
		}

		// While it cannot accept, the server keeps serving and stays idle.
		cpuBefore := processCPU(t, cmd.Process.Pid)
		time.Sleep(time.Second)
		cpu := processCPU(t, cmd.Process.Pid) - cpuBefore
		if cpu > 300*time.Millisecond {
			t.Errorf("server burned %v of CPU in 1s while out of descriptors (spinning on accept?)", cpu)
		}
		for i, c := range served {
			if !echoes(c, 5*time.Second) {
				t.Fatalf("served connection %d stopped working during EMFILE", i)
			}
		}

		// Free descriptors: every waiting connection gets accepted as room
		// appears. Each one closes once served, making room for the next.
		for _, c := range served {
			c.Close()
		}
		served = nil
		failed := make(chan int, len(waiting))
		var checks sync.WaitGroup
		for i, c := range waiting {
			checks.Add(1)
			go func(i int, c net.Conn) {
				defer checks.Done()
				if !echoes(c, 15*time.Second) {
					failed <- i
				}
				c.Close()
			}(i, c)
		}
		checks.Wait()
		close(failed)
		for i := range failed {
			t.Fatalf("waiting connection %d was not served after descriptors were freed", i)
		}
		waiting = nil

		stdin.Close()
		rest, _ := io.ReadAll(out)
		err = cmd.Wait()
		exited = true
		if err != nil || !strings.Contains(string(rest), "SERVE-RETURNED <nil>") {
			t.Fatalf("child server did not shut down cleanly: %v, output %q", err, rest)
		}
	})
}

// processCPU is the user+system time a process has used, from /proc on
// Linux; elsewhere it reports zero so only Linux checks for spinning.
func processCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (100 per second).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
