package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// twoLoopSetups are the setups with two loops: with round-robin balancing,
// a subscriber and a publisher that connect one after the other are on
// different loops.
func twoLoopSetups() []setup {
	var out []setup
	for _, s := range setups {
		if s.loops == 2 {
			out = append(out, s)
		}
	}
	return out
}

// TestPubSubExactReplies checks the bytes of messages, pattern messages
// and PUBSUB's replies with a subscriber and a publisher on two
// connections, on this server's two-loop setups and, when redis-server is
// installed, on a real Redis, so that the expectations are Redis's own.
func TestPubSubExactReplies(t *testing.T) {
	for _, s := range twoLoopSetups() {
		s := s
		t.Run(s.name, func(t *testing.T) {
			_, network, addr := startSetup(t, s, config{})
			testPubSubExactReplies(t, network, addr)
		})
	}
	t.Run("real-redis", func(t *testing.T) {
		sock := startRealRedis(t)
		testPubSubExactReplies(t, "unix", sock)
	})
}

func testPubSubExactReplies(t *testing.T, network, addr string) {
	sub := dialRaw(t, network, addr)
	pub := dialRaw(t, network, addr)
	sub.send(cmd("SUBSCRIBE", "ex:news") + cmd("PSUBSCRIBE", "ex:n*", "ex:*s"))
	sub.mustReply("*3\r\n$9\r\nsubscribe\r\n$7\r\nex:news\r\n:1\r\n")
	sub.mustReply("*3\r\n$10\r\npsubscribe\r\n$5\r\nex:n*\r\n:2\r\n")
	sub.mustReply("*3\r\n$10\r\npsubscribe\r\n$5\r\nex:*s\r\n:3\r\n")

	// The channel's subscribers receive first, then each matching pattern
	// (whose order Redis leaves open: read both, then compare as a set).
	pub.send(cmd("PUBLISH", "ex:news", "hello\r\nworld"))
	pub.mustReply(":3\r\n")
	sub.mustReply("*3\r\n$7\r\nmessage\r\n$7\r\nex:news\r\n$12\r\nhello\r\nworld\r\n")
	mustReplySet(t, sub,
		"*4\r\n$8\r\npmessage\r\n$5\r\nex:n*\r\n$7\r\nex:news\r\n$12\r\nhello\r\nworld\r\n",
		"*4\r\n$8\r\npmessage\r\n$5\r\nex:*s\r\n$7\r\nex:news\r\n$12\r\nhello\r\nworld\r\n")
	pub.send(cmd("PUBLISH", "ex:nope", "x") + cmd("PUBLISH", "other", "x"))
	pub.mustReply(":1\r\n")
	pub.mustReply(":0\r\n")
	sub.mustReply("*4\r\n$8\r\npmessage\r\n$5\r\nex:n*\r\n$7\r\nex:nope\r\n$1\r\nx\r\n")

	pub.send(cmd("PUBSUB", "CHANNELS", "ex:*") + cmd("PUBSUB", "NUMSUB", "ex:news", "ex:nope") + cmd("PUBSUB", "NUMPAT"))
	pub.mustReply("*1\r\n$7\r\nex:news\r\n")
	pub.mustReply("*4\r\n$7\r\nex:news\r\n:1\r\n$7\r\nex:nope\r\n:0\r\n")
	pub.mustReply(":2\r\n")

	// Unsubscribed from the channel, the client still gets the patterns.
	sub.send(cmd("UNSUBSCRIBE", "ex:news"))
	sub.mustReply("*3\r\n$11\r\nunsubscribe\r\n$7\r\nex:news\r\n:2\r\n")
	pub.send(cmd("PUBLISH", "ex:news", "again"))
	pub.mustReply(":2\r\n")
	sub.send(cmd("PUNSUBSCRIBE", "ex:*s"))
	mustReplySet(t, sub,
		"*4\r\n$8\r\npmessage\r\n$5\r\nex:n*\r\n$7\r\nex:news\r\n$5\r\nagain\r\n",
		"*4\r\n$8\r\npmessage\r\n$5\r\nex:*s\r\n$7\r\nex:news\r\n$5\r\nagain\r\n")
	sub.mustReply("*3\r\n$12\r\npunsubscribe\r\n$5\r\nex:*s\r\n:1\r\n")

	// A subscriber that goes away is no longer counted.
	sub.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pub.send(cmd("PUBSUB", "NUMPAT"))
		r, err := pub.readReply()
		if err != nil {
			t.Fatal(err)
		}
		if r == ":0\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUBSUB NUMPAT = %q 5s after the subscriber closed, want 0", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pub.send(cmd("PUBLISH", "ex:news", "gone") + cmd("PUBSUB", "CHANNELS"))
	pub.mustReply(":0\r\n")
	pub.mustReply("*0\r\n")
}

// mustReplySet reads len(wants) replies, which must be wants in any order
// (no two alike).
func mustReplySet(t *testing.T, rc *rawConn, wants ...string) {
	t.Helper()
	got := map[string]bool{}
	for range wants {
		r, err := rc.readReply()
		if err != nil {
			t.Fatalf("reading reply: %v (got so far %v)", err, got)
		}
		got[r] = true
	}
	for _, want := range wants {
		if !got[want] {
			t.Fatalf("reply %q not received; got %v", want, got)
		}
	}
}

// startRealRedis starts redis-server on a unix socket in a temporary
// directory, stopped when the test ends, and returns the socket's path.
// It skips the test when redis-server is not installed, unless CI=true.
func startRealRedis(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	proc := exec.Command(path, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--loglevel", "warning")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Process.Kill()
		proc.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newPoolClient is a go-redis client with a pool of one connection, so
// that the order in which clients connect decides their loops.
func newPoolClient(t *testing.T, network, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Network:                  network,
		Addr:                     addr,
		PoolSize:                 1,
		DialTimeout:              5 * time.Second,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestPubSubGoRedis subscribes with go-redis's PubSub (to a channel and a
// pattern) and publishes from another client on the other loop: every
// message arrives once per subscription, in the order published, and
// PUBLISH counts the receivers.
func TestPubSubGoRedis(t *testing.T) {
	for _, s := range twoLoopSetups() {
		s := s
		t.Run(s.name, func(t *testing.T) {
			_, network, addr := startSetup(t, s, config{})
			ctx := testContext(t)
			subClient := newPoolClient(t, network, addr)
			ps := subClient.Subscribe(ctx, "gr:events")
			defer ps.Close()
			if m, err := ps.Receive(ctx); err != nil {
				t.Fatalf("Receive: %v", err)
			} else if sub, ok := m.(*redis.Subscription); !ok || sub.Kind != "subscribe" || sub.Channel != "gr:events" || sub.Count != 1 {
				t.Fatalf("first message %#v, want the subscribe confirmation", m)
			}
			if err := ps.PSubscribe(ctx, "gr:*"); err != nil {
				t.Fatalf("PSubscribe: %v", err)
			}
			if m, err := ps.Receive(ctx); err != nil {
				t.Fatalf("Receive: %v", err)
			} else if sub, ok := m.(*redis.Subscription); !ok || sub.Kind != "psubscribe" || sub.Channel != "gr:*" || sub.Count != 2 {
				t.Fatalf("message %#v, want the psubscribe confirmation", m)
			}

			pub := newPoolClient(t, network, addr)
			const n = 500
			for i := 0; i < n; i++ {
				got, err := pub.Publish(ctx, "gr:events", "event-"+strconv.Itoa(i)).Result()
				if err != nil || got != 2 {
					t.Fatalf("PUBLISH %d = %d, %v; want 2 receivers", i, got, err)
				}
			}
			if got, err := pub.Publish(ctx, "gr:other", "x").Result(); err != nil || got != 1 {
				t.Fatalf("PUBLISH gr:other = %d, %v; want 1 (the pattern)", got, err)
			}
			ch := ps.Channel()
			nextChannel, nextPattern := 0, 0
			timeout := time.After(20 * time.Second)
			for nextChannel < n || nextPattern < n {
				select {
				case m := <-ch:
					want := ""
					switch m.Pattern {
					case "":
						want = "event-" + strconv.Itoa(nextChannel)
						nextChannel++
					case "gr:*":
						want = "event-" + strconv.Itoa(nextPattern)
						nextPattern++
					default:
						t.Fatalf("message %#v: unexpected pattern", m)
					}
					if m.Channel != "gr:events" || m.Payload != want {
						t.Fatalf("message %#v, want %q on gr:events", m, want)
					}
				case <-timeout:
					t.Fatalf("received %d messages and %d pattern messages of %d", nextChannel, nextPattern, n)
				}
			}
			select {
			case m := <-ch:
				if m.Channel != "gr:other" || m.Pattern != "gr:*" || m.Payload != "x" {
					t.Fatalf("message %#v, want x on gr:other by gr:*", m)
				}
			case <-timeout:
				t.Fatal("the message of gr:other did not arrive")
			}

			if got, err := pub.PubSubNumSub(ctx, "gr:events").Result(); err != nil || got["gr:events"] != 1 {
				t.Fatalf("PUBSUB NUMSUB = %v, %v", got, err)
			}
			if got, err := pub.PubSubNumPat(ctx).Result(); err != nil || got != 1 {
				t.Fatalf("PUBSUB NUMPAT = %v, %v", got, err)
			}
			if err := ps.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ps.PUnsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				got, err := pub.Publish(ctx, "gr:events", "late").Result()
				if err != nil {
					t.Fatal(err)
				}
				if got == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("PUBLISH after unsubscribing = %d receivers, want 0", got)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The subscriber's connection is usable again.
			if err := ps.Ping(ctx); err != nil {
				t.Fatalf("PING after unsubscribing: %v", err)
			}
		})
	}
}

// TestPubSubRedisCli runs "redis-cli SUBSCRIBE" as a process and publishes
// to it from go-redis on the other loop: redis-cli prints the messages.
func TestPubSubRedisCli(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-cli is not installed (Debian package redis-tools)")
		}
		t.Skip("redis-cli is not installed")
	}
	_, _, addr := startSetup(t, setups[1], config{})
	host, port, _ := net.SplitHostPort(addr)
	proc := exec.Command(cli, "-h", host, "-p", port, "SUBSCRIBE", "cli:ch")
	stdout, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		proc.Process.Kill()
		proc.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("redis-cli exited; want %q", w)
				}
				if l != w {
					t.Fatalf("redis-cli printed %q, want %q", l, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("redis-cli printed nothing in 10s; want %q", w)
			}
		}
	}
	expect("subscribe", "cli:ch", "1")
	ctx := testContext(t)
	pub := newClient(t, "tcp", addr)
	for i := 0; i < 3; i++ {
		payload := "hello " + strconv.Itoa(i)
		if got, err := pub.Publish(ctx, "cli:ch", payload).Result(); err != nil || got != 1 {
			t.Fatalf("PUBLISH = %d, %v; want 1 receiver", got, err)
		}
		expect("message", "cli:ch", payload)
	}
}

// TestPubSubSlowSubscriberCut publishes 1 MiB messages to a channel with
// a subscriber that never reads and one that does. The one that does not
// read is cut with a reset once its queue passes 32 MiB (Redis's
// client-output-buffer-limit for pubsub clients), PUBLISH counts it until
// then, the other receives every message, and the server's memory stays
// bounded.
func TestPubSubSlowSubscriberCut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process and moves 100 MiB")
	}
	proc, addr := startServerProcess(t, "-bind", "127.0.0.1", "-port", "0", "-loops", "2")

	slow := dialRaw(t, "tcp", addr)
	// A small receive buffer, so that what the kernel holds for the
	// subscriber that does not read is small next to the limit.
	slow.conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	slow.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	slow.send(cmd("SUBSCRIBE", "big"))
	slow.mustReply("*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n")

	const msgSize, msgs = 1 << 20, 100
	payload := func(i int) []byte {
		b := bytes.Repeat([]byte{'a' + byte(i%26)}, msgSize)
		copy(b, strconv.Itoa(i)+":")
		return b
	}
	good := dialRaw(t, "tcp", addr)
	good.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	good.send(cmd("SUBSCRIBE", "big"))
	good.mustReply("*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n")
	goodDone := make(chan error, 1)
	go func() {
		for i := 0; i < msgs; i++ {
			if err := expectLine(good.r, "*3"); err != nil {
				goodDone <- fmt.Errorf("message %d: %v", i, err)
				return
			}
			if err := expectBulk(good.r, []byte("message")); err != nil {
				goodDone <- err
				return
			}
			if err := expectBulk(good.r, []byte("big")); err != nil {
				goodDone <- err
				return
			}
			if err := expectBulk(good.r, payload(i)); err != nil {
				goodDone <- fmt.Errorf("message %d: %v", i, err)
				return
			}
		}
		goodDone <- nil
	}()

	pub := dialRaw(t, "tcp", addr)
	pub.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	cutAt := -1
	for i := 0; i < msgs; i++ {
		pub.send(cmd("PUBLISH", "big", string(payload(i))))
		r, err := pub.readReply()
		if err != nil {
			t.Fatalf("PUBLISH %d: %v", i, err)
		}
		switch {
		case r == ":2\r\n" && cutAt < 0:
		case r == ":1\r\n":
			if cutAt < 0 {
				cutAt = i
			}
		default:
			t.Fatalf("PUBLISH %d = %q (cut at %d)", i, r, cutAt)
		}
	}
	if err := <-goodDone; err != nil {
		t.Fatalf("the subscriber that reads: %v", err)
	}
	// Queued for the slow subscriber before the cut: up to 32 MiB in the
	// server, plus what the sockets' buffers took.
	t.Logf("the subscriber that does not read was cut at message %d", cutAt)
	if cutAt < 0 {
		t.Fatalf("the subscriber that does not read was never cut (%d MiB published)", msgs*msgSize>>20)
	}
	if cutAt < 31 || cutAt > 44 {
		t.Errorf("cut after %d MiB were queued for it; want a little over 32 MiB", cutAt)
	}
	// The cut is a reset: what the subscriber's kernel buffered may come
	// first, then ECONNRESET.
	n, err := io.Copy(io.Discard, slow.conn)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the subscriber that does not read got %v after %d bytes, want ECONNRESET", err, n)
	}
	rss := peakRSS(t, proc.Process.Pid)
	t.Logf("server peak RSS %d MiB", rss>>20)
	if rss > 160<<20 {
		t.Errorf("server peak RSS %d MiB, want under 160 MiB", rss>>20)
	}
	// The server stays usable and no longer counts the cut subscriber.
	pub.send(cmd("PUBSUB", "NUMSUB", "big"))
	pub.mustReply("*2\r\n$3\r\nbig\r\n:1\r\n")
}

// TestPubSubConfirmationFirst subscribes while another loop publishes
// to the channel without pause: the replies before SUBSCRIBE and its
// confirmation must come before the first message, every time.
func TestPubSubConfirmationFirst(t *testing.T) {
	ts, network, addr := startSetup(t, setups[1], config{})
	_ = ts
	stop := make(chan struct{})
	published := make(chan error, 1)
	pub := dialRaw(t, network, addr)
	go func() {
		pipeline := strings.Repeat(cmd("PUBLISH", "race", "m"), 64)
		for {
			select {
			case <-stop:
				published <- nil
				return
			default:
			}
			pub.send(pipeline)
			for i := 0; i < 64; i++ {
				if _, err := pub.readReply(); err != nil {
					published <- err
					return
				}
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-published; err != nil {
			t.Errorf("publisher: %v", err)
		}
	}()
	const message = "*3\r\n$7\r\nmessage\r\n$4\r\nrace\r\n$1\r\nm\r\n"
	for i := 0; i < 200; i++ {
		sub := dialRaw(t, network, addr)
		sub.send(cmd("PING") + cmd("SUBSCRIBE", "race") + cmd("PING"))
		sub.mustReply("+PONG\r\n")
		sub.mustReply("*3\r\n$9\r\nsubscribe\r\n$4\r\nrace\r\n:1\r\n")
		// The PING in subscribed state may come after some messages.
		for {
			r, err := sub.readReply()
			if err != nil {
				t.Fatal(err)
			}
			if r == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
				break
			}
			if r != message {
				t.Fatalf("round %d: reply %q, want a message or the pong", i, r)
			}
		}
		sub.conn.Close()
	}
}

// TestPubSubSoftLimit leaves more than 8 MiB queued for a subscriber that
// does not read: after the soft limit's time (shortened here) it is cut
// with a reset, even though no more messages are published.
func TestPubSubSoftLimit(t *testing.T) {
	_, network, addr := startSetup(t, setups[1], config{pubsubSoftTime: 1500 * time.Millisecond})
	slow := dialRaw(t, network, addr)
	slow.conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	slow.send(cmd("SUBSCRIBE", "soft"))
	slow.mustReply("*3\r\n$9\r\nsubscribe\r\n$4\r\nsoft\r\n:1\r\n")
	pub := dialRaw(t, network, addr)
	big := strings.Repeat("x", 1<<20)
	for i := 0; i < 16; i++ {
		pub.send(cmd("PUBLISH", "soft", big))
		pub.mustReply(":1\r\n")
	}
	// Not cut at once: the queue is under the hard limit.
	time.Sleep(500 * time.Millisecond)
	pub.send(cmd("PUBSUB", "NUMSUB", "soft"))
	pub.mustReply("*2\r\n$4\r\nsoft\r\n:1\r\n")
	// The check runs once a second: after 1.5s above the mark, it is
	// cut within another second.
	time.Sleep(3 * time.Second)
	slow.conn.SetDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, slow.conn)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the subscriber over the soft limit got %v after %d bytes, want ECONNRESET", err, n)
	}
	pub.send(cmd("PUBSUB", "NUMSUB", "soft"))
	pub.mustReply("*2\r\n$4\r\nsoft\r\n:0\r\n")
}
