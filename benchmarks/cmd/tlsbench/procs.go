package main

import (
	"bytes"
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

// children holds every process the driver started and has not reaped, so
// that an interrupt ends each of them by PID.
var children = struct {
	sync.Mutex
	m map[int]*exec.Cmd
}{m: make(map[int]*exec.Cmd)}

// server is one running server process.
type server struct {
	cmd      *exec.Cmd
	addr     string // 127.0.0.1:port
	heapPath string // the -heap file of a Go server, "" for nginx
	heapSeq  int64
	argv     []string
}

// startServer runs argv pinned to cpu (taskset execs argv, so the PID is
// the server's own), output to logPath, and waits until it accepts.
func startServer(cpu int, env []string, logPath, addr, heapPath string, argv ...string) (*server, error) {
	full := append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	children.Lock()
	err = cmd.Start()
	if err == nil {
		children.m[cmd.Process.Pid] = cmd
	}
	children.Unlock()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, heapPath: heapPath, argv: full}
	if err := waitListening(addr, 5*time.Second); err != nil {
		s.stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s: %v; log: %s", argv[0], err, bytes.TrimSpace(log))
	}
	return s, nil
}

// waitListening dials addr until a TCP connection is accepted. The probe
// sends nothing: a TLS server sees a handshake that fails, which none of
// the figures counts.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("not listening after " + timeout.String())
}

// stop ends the server by PID: SIGTERM, SIGKILL after a grace period; and
// any child it leaves behind (nginx's worker), also by PID.
func (s *server) stop() {
	pid := s.cmd.Process.Pid
	kids := proc.Children(pid)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	for _, k := range kids {
		if syscall.Kill(k, 0) == nil {
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
	children.Lock()
	delete(children.m, pid)
	children.Unlock()
}

// killChildren ends every server still running, by PID.
func killChildren() {
	children.Lock()
	defer children.Unlock()
	for pid, cmd := range children.m {
		for _, k := range proc.Children(pid) {
			syscall.Kill(k, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		delete(children.m, pid)
	}
}

// cpuTime is utime+stime of the server, all its threads, plus those of
// its living children: nginx serves from a worker process, its master
// only waits.
func (s *server) cpuTime() (time.Duration, error) {
	pid := s.cmd.Process.Pid
	total, err := proc.CPUTime(pid)
	if err != nil {
		return 0, err
	}
	for _, k := range proc.Children(pid) {
		t, err := proc.CPUTime(k)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// heapStats mirrors internal/srv.Heap.
type heapStats struct {
	Seq        int64  `json:"seq"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

// heap asks a Go server for its heap after a full collection (SIGUSR2)
// and waits for the answer with the new sequence number.
func (s *server) heap() (heapStats, error) {
	var h heapStats
	s.heapSeq++
	if err := s.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return h, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(s.heapPath); err == nil && json.Unmarshal(b, &h) == nil && h.Seq == s.heapSeq {
			return h, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h, errors.New("no heap figures from the server")
}

// switches is the context switches, voluntary and not, of the server's
// living threads (and those of its children), with the number of
// threads: a server that hands work between threads pays here.
func (s *server) switches() (sw int64, threads int) {
	pids := append([]int{s.cmd.Process.Pid}, proc.Children(s.cmd.Process.Pid)...)
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/task", pid)
		tasks, _ := os.ReadDir(dir)
		for _, t := range tasks {
			b, err := os.ReadFile(filepath.Join(dir, t.Name(), "status"))
			if err != nil {
				continue // the thread ended
			}
			threads++
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "ctxt_switches:") {
					f := strings.Fields(line)
					n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
					sw += n
				}
			}
		}
	}
	return sw, threads
}
