package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A bulk transfer through the proxy as a process, plain and terminating
// TLS, and through stunnel for comparison: 1 GiB per iteration from a Go
// backend to a Go client through it (down: the proxy encrypts), or from
// the client to the backend (up: it decrypts). Not run by CI (a
// benchmark):
//
//	go test -run '^$' -bench ProxyThroughput -benchtime 1x ./examples/tcp-proxy/
//
// MB/s is the transfer's; proxy-cpu-s/op is the proxy process's user plus
// system CPU time for it, from /proc/PID/stat, and proxy-reads/op and
// proxy-writes/op its system calls, from /proc/PID/io. Client, backend and
// proxy share the machine's cores.

const bulkSize = 1 << 30

func BenchmarkProxyThroughput(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads the proxy's CPU time and system calls from /proc")
	}
	for _, dir := range []string{"down", "up"} {
		upload := dir == "up"
		for _, engine := range engines {
			b.Run(dir+"/plain/"+engine, func(b *testing.B) {
				benchProxy(b, false, upload, func(backend string) (int, string) {
					proc, addr := proxyProc.Start(b, "-bind", "127.0.0.1", "-port", "0", "-backend", backend, engine)
					return proc.Process.Pid, addr
				})
			})
			b.Run(dir+"/tls/"+engine, func(b *testing.B) {
				benchProxy(b, true, upload, func(backend string) (int, string) {
					_, files := certs(b)
					proc, addr := proxyProc.Start(b, "-bind", "127.0.0.1", "-port", "0", "-backend", backend, engine,
						"-tls-cert-file", files.Cert, "-tls-key-file", files.Key)
					return proc.Process.Pid, addr
				})
			})
		}
		b.Run(dir+"/tls/stunnel", func(b *testing.B) {
			bin, err := exec.LookPath("stunnel4")
			if err != nil {
				b.Skipf("stunnel4 not found (%v): apt-get install stunnel4", err)
			}
			benchProxy(b, true, upload, func(backend string) (int, string) { return startStunnel(b, bin, backend) })
		})
	}
}

// benchProxy starts a backend, then the proxy in front of it, and moves
// b.N streams of bulkSize bytes through it: from the backend to the
// client, or the other way if upload.
func benchProxy(b *testing.B, useTLS, upload bool, start func(backend string) (pid int, addr string)) {
	chunk := make([]byte, 256<<10)
	copy(chunk, pattern)
	received := make(chan int64, 1)
	backend := goBackend(b, func(c *net.TCPConn) {
		defer c.Close()
		if upload {
			n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
			received <- n
			return
		}
		sendBulk(c, chunk)
	})
	pid, addr := start(backend)
	set, _ := certs(b)
	b.SetBytes(bulkSize)
	b.ResetTimer()
	cpu0 := cpuSeconds(b, pid)
	reads0, writes0 := syscalls(b, pid)
	var suite string
	for i := 0; i < b.N; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Minute))
		var c halfStream = nc.(*net.TCPConn)
		if useTLS {
			tc := tls.Client(nc, set.ClientConfig())
			if err := tc.Handshake(); err != nil {
				b.Fatal(err)
			}
			suite = tls.CipherSuiteName(tc.ConnectionState().CipherSuite)
			c = tc
		}
		var n int64
		if upload {
			if err = sendBulk(c, chunk); err == nil {
				err = c.CloseWrite()
			}
			select {
			case n = <-received:
			case <-time.After(5 * time.Minute):
				err = errors.New("the backend never reached the end of the stream")
			}
		} else {
			n, err = io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
		}
		nc.Close()
		if err != nil || n != bulkSize {
			b.Fatalf("moved %d bytes, %v; want %d", n, err, bulkSize)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds(b, pid)-cpu0)/float64(b.N), "proxy-cpu-s/op")
	reads, writes := syscalls(b, pid)
	b.ReportMetric(float64(reads-reads0)/float64(b.N), "proxy-reads/op")
	b.ReportMetric(float64(writes-writes0)/float64(b.N), "proxy-writes/op")
	if suite != "" {
		b.Logf("cipher suite: %s", suite)
	}
}

// sendBulk writes bulkSize bytes to w, chunk by chunk.
func sendBulk(w io.Writer, chunk []byte) error {
	for sent := 0; sent < bulkSize; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// cpuSeconds is the user plus system CPU time of process pid (all its
// threads), from /proc/PID/stat, in clock ticks of 1/100 s.
func cpuSeconds(b *testing.B, pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 14th and 15th of the line.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.Atoi(fields[11])
	stime, _ := strconv.Atoi(fields[12])
	return float64(utime+stime) / 100
}

// syscalls is how many read and write system calls process pid has made
// (syscr and syscw of /proc/PID/io): the proxy's batching shows there.
func syscalls(b *testing.B, pid int) (reads, writes int) {
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.Atoi(v)
		}
	}
	return reads, writes
}

// startStunnel runs stunnel in the foreground, terminating TLS with the
// test certificate in front of backend, and returns its PID and address.
// stunnel takes no port 0: a port the system just handed out and released
// is given to it.
func startStunnel(b *testing.B, bin, backend string) (int, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	_, files := certs(b)
	conf := filepath.Join(dir, "stunnel.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf("foreground = yes\npid =\ndebug = 3\n[proxy]\naccept = %s\nconnect = %s\ncert = %s\nkey = %s\n",
		addr, backend, files.Cert, files.Key)), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	proc := exec.Command(bin, conf)
	logFile, err := os.Create(filepath.Join(dir, "stunnel.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	proc.Stdout, proc.Stderr = logFile, logFile
	if err := proc.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		proc.Process.Kill()
		proc.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return proc.Process.Pid, addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			b.Fatalf("stunnel did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
