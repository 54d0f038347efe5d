// Command proxybench compares TCP proxies in front of one backend: the
// evio example examples/tcp-proxy, a goroutine-per-connection proxy with
// io.Copy (built in: this program with -copyproxy), and HAProxy in TCP
// mode on one thread when haproxy is installed. For each it reports the
// proxy's CPU time per request under redis-benchmark (GET and SET, 50
// connections, one request in flight each) and its resident memory per
// proxied idle connection (Linux /proc).
//
//	go build -o /tmp/ex-redis ./examples/redis-server   # from the repository root
//	go build -o /tmp/ex-proxy ./examples/tcp-proxy
//	go run ./cmd/proxybench -backend-bin /tmp/ex-redis -evio-proxy /tmp/ex-proxy
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

func main() {
	copyProxy := flag.String("copyproxy", "", "internal: run as the io.Copy proxy, listening on this address")
	backendAddr := flag.String("backend", "", "internal: the io.Copy proxy's backend")
	backendBin := flag.String("backend-bin", "", "the backend server binary (the evio redis example)")
	evioProxy := flag.String("evio-proxy", "", "the examples/tcp-proxy binary")
	requests := flag.Int("n", 200000, "requests per redis-benchmark test")
	idle := flag.Int("idle", 2000, "idle connections for the memory figure")
	flag.Parse()
	if *copyProxy != "" {
		runCopyProxy(*copyProxy, *backendAddr)
		return
	}
	if *backendBin == "" || *evioProxy == "" {
		log.Fatal("-backend-bin and -evio-proxy are required")
	}
	backendPort := freePort()
	backend := start(*backendBin, "-bind", "127.0.0.1", "-port", strconv.Itoa(backendPort))
	defer stop(backend)
	backendHostPort := "127.0.0.1:" + strconv.Itoa(backendPort)
	waitListening(backendHostPort)

	type proxy struct {
		name string
		cmd  func(port int) *exec.Cmd
	}
	self, _ := os.Executable()
	proxies := []proxy{
		{"evio tcp-proxy", func(port int) *exec.Cmd {
			return exec.Command(*evioProxy, "-bind", "127.0.0.1", "-port", strconv.Itoa(port), "-backend", backendHostPort)
		}},
		{"io.Copy proxy", func(port int) *exec.Cmd {
			return exec.Command(self, "-copyproxy", "127.0.0.1:"+strconv.Itoa(port), "-backend", backendHostPort)
		}},
	}
	if path, err := exec.LookPath("haproxy"); err == nil {
		proxies = append(proxies, proxy{"haproxy (1 thread)", func(port int) *exec.Cmd {
			cfg := filepath.Join(os.TempDir(), fmt.Sprintf("proxybench-%d.cfg", port))
			os.WriteFile(cfg, []byte(fmt.Sprintf("global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\nfrontend f\n  bind 127.0.0.1:%d\n  default_backend b\nbackend b\n  server s %s\n", port, backendHostPort)), 0o644)
			return exec.Command(path, "-db", "-f", cfg)
		}})
	} else {
		fmt.Println("haproxy is not installed: its row is left out (apt-get install haproxy)")
	}
	for _, p := range proxies {
		port := freePort()
		cmd := p.cmd(port)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			log.Fatalf("%s: %v", p.name, err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitListening(addr)
		pid := cmd.Process.Pid
		cpu0 := cpuTime(pid)
		out, err := exec.Command("redis-benchmark", "-p", strconv.Itoa(port), "-t", "get,set", "-n", strconv.Itoa(*requests), "-c", "50", "-q").CombinedOutput()
		if err != nil {
			log.Fatalf("%s: redis-benchmark: %v\n%s", p.name, err, out)
		}
		cpu := cpuTime(pid) - cpu0
		total := 2 * *requests
		rates := regexp.MustCompile(`(SET|GET): ([\d.]+) requests per second`).FindAllStringSubmatch(string(out), -1)
		var rateText []string
		for _, r := range rates {
			rateText = append(rateText, r[1]+" "+strings.Split(r[2], ".")[0]+"/s")
		}
		rss0 := rss(pid)
		conns := make([]net.Conn, 0, *idle)
		for i := 0; i < *idle; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				log.Fatalf("%s: idle connection %d: %v", p.name, i, err)
			}
			conns = append(conns, c)
		}
		time.Sleep(time.Second)
		perConn := float64(rss(pid)-rss0) / float64(*idle)
		for _, c := range conns {
			c.Close()
		}
		fmt.Printf("%-20s CPU %6.2f µs/request (%s)  RSS %6.0f B per proxied idle connection (%d)\n",
			p.name, float64(cpu.Microseconds())/float64(total), strings.Join(rateText, ", "), perConn, *idle)
		stop(cmd)
	}
}

// runCopyProxy is the baseline: a goroutine per direction, io.Copy.
func runCopyProxy(addr, backend string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				return
			}
			go func() {
				io.Copy(b, c)
				b.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, b)
			c.Close()
			b.Close()
		}(c)
	}
}

func start(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return cmd
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

func waitListening(addr string) {
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Fatalf("nothing listens on %s", addr)
}

// rss is the resident memory of process pid, in bytes (proc.RSS); a
// process that cannot be read ends the run.
func rss(pid int) int64 {
	n, err := proc.RSS(pid)
	if err != nil {
		log.Fatal(err)
	}
	return n
}

// cpuTime is pid's user and system CPU time (proc.CPUTime); a process
// that cannot be read ends the run.
func cpuTime(pid int) time.Duration {
	t, err := proc.CPUTime(pid)
	if err != nil {
		log.Fatal(err)
	}
	return t
}

// freePort is a free loopback port (proc.FreePort); none ends the run.
func freePort() int {
	port, err := proc.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	return port
}
