package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopBySIGTERMKeepsAcknowledgedWrites runs the server as a process
// with an append-only file synced every second, has two clients (on two
// loops) pipeline SETs, and sends SIGTERM while replies are still on their
// way: the process must exit with status 0, deliver the replies it queued,
// and a restart must replay every SET a client saw acknowledged.
func TestStopBySIGTERMKeepsAcknowledgedWrites(t *testing.T) {
	testStopKeepsAcknowledgedWrites(t, func(t *testing.T, addr string, pid int) {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}, nil)
}

// TestStopBySHUTDOWNKeepsAcknowledgedWrites is the same with the SHUTDOWN
// command from a third client, which sees the connection close without a
// reply, as with Redis.
func TestStopBySHUTDOWNKeepsAcknowledgedWrites(t *testing.T) {
	testStopKeepsAcknowledgedWrites(t, func(t *testing.T, addr string, pid int) {
		rc := dialRaw(t, "tcp", addr)
		rc.send(cmd("SET", "before-shutdown", "x") + cmd("SHUTDOWN") + cmd("SET", "after-shutdown", "x"))
		rc.mustReply("+OK\r\n")
		rc.mustClose()
	}, func(t *testing.T, has func(key, value string) bool) {
		if !has("before-shutdown", "x") {
			t.Error("the SET acknowledged before SHUTDOWN is not in the file")
		}
		if has("after-shutdown", "x") {
			t.Error("the SET pipelined after SHUTDOWN ran")
		}
	})
}

// testStopKeepsAcknowledgedWrites runs the test with stop, and then check
// (if not nil) on the restarted server's keys.
func testStopKeepsAcknowledgedWrites(t *testing.T, stop func(t *testing.T, addr string, pid int), check func(t *testing.T, has func(key, value string) bool)) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	proc, addr := startServerProcess(t, "-bind", "127.0.0.1", "-port", "0", "-loops", "2",
		"-aof", path, "-appendfsync", "everysec")

	const perClient = 20000
	type result struct {
		client, acked int
		err           error
	}
	var clients [2]*rawConn
	results := make(chan result, len(clients))
	for i := range clients {
		rc := dialRaw(t, "tcp", addr)
		clients[i] = rc
		// Acknowledged before the stop: a first round trip, so that
		// the stop cannot come before any write.
		rc.send(cmd("SET", fmt.Sprintf("c%d:first", i), "v"))
		rc.mustReply("+OK\r\n")
	}
	pipelines := make([]string, len(clients))
	for i := range pipelines {
		var b strings.Builder
		for n := 0; n < perClient; n++ {
			b.WriteString(cmd("SET", fmt.Sprintf("c%d:%d", i, n), fmt.Sprintf("value:%d", n)))
		}
		pipelines[i] = b.String()
	}
	// Each reader says when it has seen a first share of its replies: the
	// stop comes in the middle of the stream.
	const stopAfter = 2000
	streaming := make(chan struct{}, len(clients))
	for i, rc := range clients {
		i, rc := i, rc
		go func() {
			// The pipeline is written from one goroutine and read from
			// another: the server may stop reading it half-way.
			go io.WriteString(rc.conn, pipelines[i])
			acked := 0
			for {
				if acked == stopAfter {
					streaming <- struct{}{}
				}
				got, err := rc.readReply()
				if err != nil {
					if errors.Is(err, io.EOF) || isConnReset(err) {
						err = nil
					}
					results <- result{i, acked, err}
					return
				}
				if got != "+OK\r\n" {
					results <- result{i, acked, fmt.Errorf("reply %d: %q", acked, got)}
					return
				}
				acked++
			}
		}()
	}
	for range clients {
		select {
		case <-streaming:
		case r := <-results:
			t.Fatalf("client %d ended after %d replies: %v", r.client, r.acked, r.err)
		}
	}
	stop(t, addr, proc.Process.Pid)

	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("server exited with %v, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit within 20s of the stop")
	}
	acked := make([]int, len(clients))
	for range clients {
		r := <-results
		if r.err != nil {
			t.Fatalf("client %d, reading replies: %v", r.client, r.err)
		}
		acked[r.client] = r.acked
	}
	t.Logf("acknowledged before the connections closed: %v of %d each", acked, perClient)

	srv, err := newServer(config{aofPath: path, logf: t.Logf})
	if err != nil {
		t.Fatalf("replaying after the stop: %v", err)
	}
	defer srv.aof.close()
	has := func(key, value string) bool {
		e, _ := srv.db.shardOf([]byte(key)).peek([]byte(key))
		return e != nil && string(e.value) == value
	}
	for i := range clients {
		if !has(fmt.Sprintf("c%d:first", i), "v") {
			t.Fatalf("c%d:first, acknowledged before the stop, is not in the file", i)
		}
		for n := 0; n < acked[i]; n++ {
			if !has(fmt.Sprintf("c%d:%d", i, n), fmt.Sprintf("value:%d", n)) {
				t.Fatalf("c%d:%d was acknowledged (%d of client %d were) but is not in the file", i, n, acked[i], i)
			}
		}
	}
	if check != nil {
		check(t, has)
	}
}
