// Command fanout measures Redis pub/sub fan-out: one publisher, N
// subscribers of one channel, against a server it starts (the evio example
// or a real redis-server), and reports messages delivered per second and
// the server's CPU time per delivered message (from /proc, Linux).
//
//	go build -o /tmp/ex-redis ./examples/redis-server   # from the repository root
//	go run ./cmd/fanout -server /tmp/ex-redis -subscribers 10000
//	go run ./cmd/fanout -server redis-server -subscribers 10000
//
// The subscribers run in this process, one goroutine each, reading with
// large buffers; the publisher sends -messages PUBLISH commands pipelined
// -pipeline deep and waits for every subscriber to have received them
// all. The server gets one CPU's worth of work to show; the client side,
// this process, is not measured.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

func main() {
	server := flag.String("server", "redis-server", "the server binary: the evio example (flags -bind -port) or redis-server")
	subscribers := flag.Int("subscribers", 10000, "subscribers of the channel")
	messages := flag.Int("messages", 200, "messages published")
	size := flag.Int("size", 64, "payload bytes per message")
	pipeline := flag.Int("pipeline", 16, "PUBLISH commands in flight")
	port := flag.Int("port", 0, "port for the server (0: a free one)")
	flag.Parse()
	raiseFileLimit(*subscribers + 200)
	if *port == 0 {
		*port = freePort()
	}
	srv := startServer(*server, *port)
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	addr := "127.0.0.1:" + strconv.Itoa(*port)
	waitListening(addr)

	var received atomic.Int64
	want := int64(*messages)
	var done sync.WaitGroup
	subs := make([]net.Conn, *subscribers)
	for i := range subs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatalf("subscriber %d: %v", i, err)
		}
		subs[i] = c
		fmt.Fprintf(c, "SUBSCRIBE news\r\n")
		r := bufio.NewReaderSize(c, 64<<10)
		if _, err := readReply(r); err != nil { // the confirmation
			log.Fatalf("subscriber %d: %v", i, err)
		}
		done.Add(1)
		go func(r *bufio.Reader) {
			defer done.Done()
			for n := int64(0); n < want; n++ {
				if _, err := readReply(r); err != nil {
					log.Fatalf("subscriber: %v", err)
				}
				received.Add(1)
			}
		}(r)
	}
	pub, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	payload := strings.Repeat("x", *size)
	cmd := fmt.Sprintf("*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$%d\r\n%s\r\n", len(payload), payload)
	pr := bufio.NewReader(pub)

	cpu0, start := cpuTime(srv.Process.Pid), time.Now()
	inFlight := 0
	for sent := 0; sent < *messages; {
		for inFlight < *pipeline && sent < *messages {
			io.WriteString(pub, cmd)
			sent++
			inFlight++
		}
		if _, err := readReply(pr); err != nil {
			log.Fatal(err)
		}
		inFlight--
	}
	for ; inFlight > 0; inFlight-- {
		readReply(pr)
	}
	done.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime(srv.Process.Pid) - cpu0
	delivered := received.Load()
	fmt.Printf("%s: %d subscribers, %d messages of %d B: %d delivered in %v: %.0f deliveries/s, server CPU %v (%.2f µs per delivery)\n",
		filepath.Base(*server), *subscribers, *messages, *size, delivered, elapsed.Round(time.Millisecond),
		float64(delivered)/elapsed.Seconds(), cpu, float64(cpu.Microseconds())/float64(delivered))
	for _, c := range subs {
		c.Close()
	}
}

func startServer(bin string, port int) *exec.Cmd {
	var args []string
	if filepath.Base(bin) == "redis-server" {
		args = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "20000"}
	} else {
		args = []string{"-bind", "127.0.0.1", "-port", strconv.Itoa(port)}
	}
	proc := exec.Command(bin, args...)
	proc.Stdout, proc.Stderr = io.Discard, os.Stderr
	if err := proc.Start(); err != nil {
		log.Fatal(err)
	}
	return proc
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

// readReply reads one RESP value (of the kinds pub/sub sends) and returns
// its first line.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch line[0] {
	case '*':
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		for i := 0; i < n; i++ {
			if _, err := readReply(r); err != nil {
				return "", err
			}
		}
	case '$':
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		if n >= 0 {
			if _, err := r.Discard(n + 2); err != nil {
				return "", err
			}
		}
	}
	return line, nil
}

func raiseFileLimit(n int) {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur >= uint64(n) {
		return
	}
	lim.Cur = uint64(n)
	if lim.Max < lim.Cur {
		lim.Max = lim.Cur
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Fatalf("raising the open-file limit to %d: %v", n, err)
	}
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
