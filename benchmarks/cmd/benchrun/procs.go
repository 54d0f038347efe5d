package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

// children holds every process the harness has started and not yet
// reaped, so that an interrupt or a failure ends each of them by PID.
var children = struct {
	sync.Mutex
	m map[int]*exec.Cmd
}{m: make(map[int]*exec.Cmd)}

// prepareProc returns the command for argv pinned to cpu by taskset, which
// execs argv, so that the PID is argv's own.
func prepareProc(cpu int, env []string, argv ...string) *exec.Cmd {
	full := append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// startServer starts argv pinned to cpu with its output going to logPath.
func startServer(cpu int, env []string, logPath string, argv ...string) (*exec.Cmd, error) {
	cmd := prepareProc(cpu, env, argv...)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, register(cmd)
}

// register starts cmd and records it as a child.
func register(cmd *exec.Cmd) error {
	children.Lock()
	defer children.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	children.m[cmd.Process.Pid] = cmd
	return nil
}

// reap waits for cmd and forgets it.
func reap(cmd *exec.Cmd) error {
	err := cmd.Wait()
	children.Lock()
	delete(children.m, cmd.Process.Pid)
	children.Unlock()
	return err
}

// stopProc ends cmd by its PID: SIGTERM, then SIGKILL if it is still there
// after a grace period.
func stopProc(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { reap(cmd); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// killChildren ends every child still running, by PID.
func killChildren() {
	children.Lock()
	defer children.Unlock()
	for pid, cmd := range children.m {
		cmd.Process.Kill()
		delete(children.m, pid)
	}
}

// schedTime sums the run time of pid's living threads from
// /proc/PID/task/*/schedstat: nanosecond resolution where /proc/PID/stat
// has 10 ms, but blind to threads that exited. It is recorded beside
// cpuTime as a cross-check for short runs.
func schedTime(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// goStats is what a Go server's -stats hook writes (internal/srv.Stats).
type goStats struct {
	Seq           int64  `json:"seq"`
	AllocsObjects uint64 `json:"allocs_objects"`
	AllocsBytes   uint64 `json:"allocs_bytes"`
	GCCycles      uint64 `json:"gc_cycles"`
}

// readGoStats asks the server for its allocation counters with SIGUSR1
// and waits for the file to show an answer newer than last.
func readGoStats(pid int, path string, last int64) (goStats, error) {
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return goStats{}, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		var s goStats
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &s) == nil && s.Seq > last {
			return s, nil
		}
		time.Sleep(time.Millisecond)
	}
	return goStats{}, errors.New("stats hook did not answer SIGUSR1")
}

// waitListening dials addr until it answers or the process exits; for UDP,
// until a datagram sent there comes back.
func waitListening(proto, addr string, cmd *exec.Cmd, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var err error
		if proto == protoUDP {
			err = udpRoundTrip(addr, []byte("ready?"), 100*time.Millisecond)
		} else {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
			}
		}
		if err == nil {
			return nil
		}
		if !proc.Alive(cmd.Process.Pid) {
			return errors.New("server exited before listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %s after %v", addr, timeout)
}
