package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testproc"
)

// The replies a client does not read must not grow the server without
// bound: a pipeline of thousands of GETs of a 1 MB value, sent and not
// read, is answered only as far as the connection's high mark, while other
// clients are served; when the client reads at last it gets every reply,
// in order. Real Redis 7 with its defaults (no limit on a normal client's
// output buffer) holds every reply. The server runs in a process of its
// own, so that its resident memory is what is measured.

// rssLimit is the most resident memory the server may reach during the
// test, as the kernel's peak (VmHWM) reports it.
const rssLimit = 400 << 20

// slowValue is the i-th of the large values: 1 MB, distinct per i, so that
// replies out of order would show.
func slowValue(i int) []byte { return slowValueSet[i] }

const slowValues = 8

var slowValueSet = func() (set [slowValues][]byte) {
	for i := range set {
		set[i] = bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
		copy(set[i], fmt.Sprintf("value-%d:", i))
	}
	return set
}()

func TestSlowReaderPipelinedGETsBounded(t *testing.T) {
	const requests = 2000 // 2 GB of replies
	var pipeline strings.Builder
	for i := 0; i < requests; i++ {
		pipeline.WriteString(cmd("GET", fmt.Sprintf("big:%d", i%slowValues)))
	}
	for _, engine := range []string{"-stdlib=false", "-stdlib"} {
		t.Run(engine, func(t *testing.T) {
			testSlowReader(t, engine, pipeline.String(), nil, func(r *bufio.Reader) error {
				for i := 0; i < requests; i++ {
					if err := expectBulk(r, slowValue(i%slowValues)); err != nil {
						return fmt.Errorf("reply %d: %w", i, err)
					}
				}
				return nil
			})
		})
	}
}

func TestSlowReaderMGETBounded(t *testing.T) {
	const keys = 300 // a 300 MB reply, twice
	args := []string{"MGET"}
	for i := 0; i < keys; i++ {
		args = append(args, fmt.Sprintf("big:%d", i%slowValues))
	}
	args = append(args, "missing")
	request := cmd(args...) + cmd(args...)
	// While the first MGET is being written, big:0 is overwritten: the
	// first reply still shows the old value throughout (it was taken at
	// once), the second the new one.
	replaced := bytes.Repeat([]byte{'Z'}, 1<<20)
	overwrite := func(setter *rawConn) {
		setter.send(cmd("SET", "big:0", string(replaced)))
		setter.mustReply("+OK\r\n")
	}
	for _, engine := range []string{"-stdlib=false", "-stdlib"} {
		t.Run(engine, func(t *testing.T) {
			testSlowReader(t, engine, request, overwrite, func(r *bufio.Reader) error {
				for rep := 0; rep < 2; rep++ {
					if err := expectLine(r, fmt.Sprintf("*%d", keys+1)); err != nil {
						return err
					}
					for i := 0; i < keys; i++ {
						want := slowValue(i % slowValues)
						if rep == 1 && i%slowValues == 0 {
							want = replaced
						}
						if err := expectBulk(r, want); err != nil {
							return fmt.Errorf("MGET %d element %d: %w", rep, i, err)
						}
					}
					if err := expectLine(r, "$-1"); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// testSlowReader starts the server, stores the large values, sends request
// on a connection that does not read, checks the server's memory and that
// another client is served meanwhile (and runs during, if not nil, with
// that client), then reads the replies with check.
func testSlowReader(t *testing.T, engineFlag, request string, during func(*rawConn), check func(*bufio.Reader) error) {
	proc, addr := startServerProcess(t, "-bind", "127.0.0.1", "-port", "0", engineFlag)
	setter := dialRaw(t, "tcp", addr)
	for i := 0; i < slowValues; i++ {
		setter.send(cmd("SET", fmt.Sprintf("big:%d", i), string(slowValue(i))))
		setter.mustReply("+OK\r\n")
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(slow, request)
		sent <- err
	}()

	// The server answers what its high mark allows, then waits; its memory
	// must stay bounded while it does, and other clients are served.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		setter.send(cmd("PING"))
		setter.mustReply("+PONG\r\n")
		if peak := peakRSS(t, proc.Process.Pid); peak > rssLimit {
			t.Fatalf("server's resident memory reached %d MB while the client did not read (limit %d MB)", peak>>20, rssLimit>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if during != nil {
		during(setter)
	}
	setter.send(cmd("SET", "other", "served"))
	setter.mustReply("+OK\r\n")
	setter.send(cmd("GET", "other"))
	setter.mustReply("$6\r\nserved\r\n")

	slow.SetDeadline(time.Now().Add(2 * time.Minute))
	if err := check(bufio.NewReaderSize(slow, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("sending the requests: %v", err)
	}
	peak := peakRSS(t, proc.Process.Pid)
	t.Logf("server's peak resident memory: %d MB", peak>>20)
	if peak > rssLimit {
		t.Fatalf("server's resident memory reached %d MB (limit %d MB)", peak>>20, rssLimit>>20)
	}
}

// server is this example, built once to run as a process of its own.
var serverProc = testproc.Binary{Name: "redis-server"}

// startServerProcess runs the server as a process of its own and returns
// it and its TCP address. It is killed when the test ends.
func startServerProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return serverProc.Start(t, args...)
}

// peakRSS is the peak resident memory of process pid, in bytes.
func peakRSS(t *testing.T, pid int) int { return testproc.PeakRSS(t, pid) }

// expectBulk reads one bulk string reply and checks it is want.
func expectBulk(r *bufio.Reader, want []byte) error {
	if err := expectLine(r, "$"+strconv.Itoa(len(want))); err != nil {
		return err
	}
	if cap(bulkScratch) < len(want)+2 {
		bulkScratch = make([]byte, len(want)+2)
	}
	got := bulkScratch[:len(want)+2]
	if _, err := io.ReadFull(r, got); err != nil {
		return err
	}
	if !bytes.Equal(got[:len(want)], want) || string(got[len(want):]) != "\r\n" {
		return fmt.Errorf("bulk starting %q, want one starting %q", got[:16], want[:16])
	}
	return nil
}

// bulkScratch is expectBulk's buffer; the tests using it do not run in
// parallel.
var bulkScratch []byte

// expectLine reads one line and checks it is want (without CRLF).
func expectLine(r *bufio.Reader, want string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading %q: %w", want, err)
	}
	if line != want+"\r\n" {
		return fmt.Errorf("line %q, want %q", line, want)
	}
	return nil
}

func TestSlowReaderLRANGEBounded(t *testing.T) {
	const elements, ranges = 600, 20 // LRANGE of 600 elements of 64 KB, 20 times: 780 MB
	values := make([][]byte, elements)
	for i := range values {
		values[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10)
		copy(values[i], fmt.Sprintf("element-%d:", i))
	}
	element := func(i int) []byte { return values[i] }
	var request strings.Builder
	for i := 0; i < elements; i++ {
		request.WriteString(cmd("RPUSH", "list", string(element(i))))
	}
	for i := 0; i < ranges; i++ {
		request.WriteString(cmd("LRANGE", "list", "0", "-1"))
	}
	for _, engine := range []string{"-stdlib=false", "-stdlib"} {
		t.Run(engine, func(t *testing.T) {
			testSlowReader(t, engine, request.String(), nil, func(r *bufio.Reader) error {
				for i := 1; i <= elements; i++ {
					if err := expectLine(r, fmt.Sprintf(":%d", i)); err != nil {
						return err
					}
				}
				for rep := 0; rep < ranges; rep++ {
					if err := expectLine(r, fmt.Sprintf("*%d", elements)); err != nil {
						return err
					}
					for i := 0; i < elements; i++ {
						if err := expectBulk(r, element(i)); err != nil {
							return fmt.Errorf("LRANGE %d element %d: %w", rep, i, err)
						}
					}
				}
				return nil
			})
		})
	}
}
