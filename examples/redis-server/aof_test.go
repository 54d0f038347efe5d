package main

import (
	"bufio"
	"fmt"
	"github.com/evio-go/evio/examples/internal/listenflags"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAOFReplay writes with every kind of write command, restarts the
// server on the same file, and checks the keyspace came back.
func TestAOFReplay(t *testing.T) {
	for _, policy := range []fsyncPolicy{fsyncAlways, fsyncEverySec, fsyncNo} {
		policy := policy
		t.Run(policy.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "appendonly.aof")
			cfg := config{Listen: listenflags.Listen{Loops: 2}, aofPath: path, appendFsync: policy}
			ts := startServer(t, cfg)
			rc := dialRaw(t, "tcp", ts.tcpAddr)
			writes := []string{
				cmd("SET", "gone", "x"), cmd("FLUSHALL"),
				cmd("SET", "plain", "v"), cmd("SET", "ttl", "v", "EX", "1000"), cmd("SETEX", "setex", "1000", "v"),
				cmd("SET", "keep", "v", "PX", "1000000"), cmd("SET", "keep", "w", "KEEPTTL"),
				cmd("INCR", "n"), cmd("INCRBY", "n", "41"), cmd("DECR", "n"), cmd("DECRBY", "n", "1"),
				cmd("APPEND", "ap", "foo"), cmd("APPEND", "ap", "bar"), cmd("MSET", "m1", "a", "m2", "b"),
				cmd("DEL", "m2"), cmd("GETSET", "gs", "1"), cmd("GETSET", "gs", "2"), cmd("SETNX", "nx", "1"),
				cmd("SET", "pers", "v", "EX", "1000"), cmd("PERSIST", "pers"), cmd("SET", "exp", "v"),
				cmd("EXPIRE", "exp", "1000"), cmd("SET", "past", "v"), cmd("EXPIRE", "past", "-1"),
				cmd("SET", "gd", "v"), cmd("GETDEL", "gd"), cmd("SET", "bin", "a\r\n\x00b"),
				cmd("SET", "nxfail", "1"), cmd("SET", "nxfail", "2", "NX"), cmd("INCR", "ap"),
			}
			rc.send(strings.Join(writes, ""))
			for range writes {
				if _, err := rc.readReply(); err != nil {
					t.Fatal(err)
				}
			}
			before := dumpKeyspace(t, ts.srv)
			ts.stop(t)

			ts2 := startServer(t, cfg)
			after := dumpKeyspace(t, ts2.srv)
			if before != after {
				t.Errorf("keyspace before restart:\n%s\nafter:\n%s", before, after)
			}
			for _, want := range []string{"n=40 ttl=-1", "ap=foobar", "keep=w ttl=", "pers=v ttl=-1", "bin=\"a\\r\\n\\x00b\"", "nxfail=1"} {
				if !strings.Contains(after, want) {
					t.Errorf("replayed keyspace lacks %q:\n%s", want, after)
				}
			}
			for _, gone := range []string{"gone=", "past=", "gd=", "m2="} {
				if strings.Contains(after, gone) {
					t.Errorf("replayed keyspace has %q:\n%s", gone, after)
				}
			}
		})
	}
}

// dumpKeyspace lists the keyspace sorted, with expiries rounded to the
// minute so that a restart's few milliseconds do not show.
func dumpKeyspace(t *testing.T, srv *server) string {
	var lines []string
	for i := range srv.db.shards {
		s := &srv.db.shards[i]
		s.mu.RLock()
		for key, e := range s.entries {
			if s.expired(e) {
				continue
			}
			ttl := int64(-1)
			if e.expireAt != 0 {
				ttl = e.expireAt / 60000
			}
			value := string(e.value)
			if strings.ContainsAny(value, "\r\n\x00") {
				value = fmt.Sprintf("%q", value)
			}
			lines = append(lines, fmt.Sprintf("%s=%s ttl=%d", key, value, ttl))
		}
		s.mu.RUnlock()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestAOFLogsAbsoluteExpiry checks that relative expiries reach the file
// as absolute times, so that a replay does not extend them.
func TestAOFLogsAbsoluteExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	ts := startServer(t, config{aofPath: path, appendFsync: fsyncAlways})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("SET", "a", "v", "EX", "100") + cmd("SET", "b", "v") + cmd("EXPIRE", "b", "100") + cmd("SETEX", "c", "100", "v"))
	for i := 0; i < 4; i++ {
		if _, err := rc.readReply(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	if strings.Count(log, "PXAT") != 2 || !strings.Contains(log, "PEXPIREAT") || strings.Contains(log, "\r\nEX\r\n") || strings.Contains(log, "SETEX") {
		t.Errorf("append-only file:\n%q", log)
	}
}

// TestAOFReplayKeepsExpiryTimes restarts a server, on a clock the test
// moves, after keys' first expiry times have passed but their later ones
// have not: the replay must rebuild the keyspace the clients were
// answered, neither expiring keys by the time of the replay nor reviving
// them.
func TestAOFReplayKeepsExpiryTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	cfg := config{aofPath: path, appendFsync: fsyncAlways, now: clock.Load}
	ts := startServer(t, cfg)
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("SET", "k", "v", "EX", "2") + cmd("SET", "c", "1", "EX", "2") + cmd("INCR", "c") +
		cmd("SET", "short", "1", "PX", "2000") + cmd("INCR", "short") +
		cmd("SET", "lazy", "1", "PX", "500") + cmd("SET", "ap", "x", "PX", "500"))
	for _, want := range []string{"+OK\r\n", "+OK\r\n", ":2\r\n", "+OK\r\n", ":2\r\n", "+OK\r\n", "+OK\r\n"} {
		rc.mustReply(want)
	}
	clock.Add(1000)
	// lazy and ap have expired: these write new keys, without a TTL.
	rc.send(cmd("EXPIRE", "k", "100") + cmd("EXPIRE", "c", "100") + cmd("GET", "lazy") + cmd("INCR", "lazy") + cmd("APPEND", "ap", "y") +
		cmd("SET", "m", "5") + cmd("PEXPIRE", "m", "1000") + cmd("INCR", "m"))
	for _, want := range []string{":1\r\n", ":1\r\n", "$-1\r\n", ":1\r\n", ":1\r\n", "+OK\r\n", ":1\r\n", ":6\r\n"} {
		rc.mustReply(want)
	}
	ts.stop(t)

	// 2.5 s after the SETs: their 2 s have passed, the EXPIREs' 100 s not.
	clock.Add(1500)
	ts = startServer(t, cfg)
	rc = dialRaw(t, "tcp", ts.tcpAddr)
	for _, check := range []struct{ request, want string }{
		{cmd("GET", "k"), "$1\r\nv\r\n"},
		{cmd("PTTL", "k"), ":98500\r\n"},
		{cmd("GET", "c"), "$1\r\n2\r\n"},
		{cmd("PTTL", "c"), ":98500\r\n"},
		{cmd("GET", "short"), "$-1\r\n"},
		{cmd("GET", "m"), "$-1\r\n"},
		{cmd("GET", "lazy"), "$1\r\n1\r\n"},
		{cmd("PTTL", "lazy"), ":-1\r\n"},
		{cmd("GET", "ap"), "$1\r\ny\r\n"},
		{cmd("PTTL", "ap"), ":-1\r\n"},
		{cmd("DBSIZE"), ":4\r\n"},
		// short expired before the restart; it comes back new.
		{cmd("INCR", "short"), ":1\r\n"},
	} {
		rc.send(check.request)
		rc.mustReply(check.want)
	}
	ts.stop(t)

	// The key that expired while the file was replayed is gone from the
	// second replay too, and the one written after it is back.
	ts = startServer(t, cfg)
	rc = dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("GET", "short") + cmd("PTTL", "short") + cmd("GET", "c"))
	rc.mustReply("$1\r\n1\r\n")
	rc.mustReply(":-1\r\n")
	rc.mustReply("$1\r\n2\r\n")
}

// TestAOFTruncatedTail starts on a file whose last command was cut short,
// as a crash in the middle of a write leaves it.
func TestAOFTruncatedTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	whole := cmd("SET", "a", "1") + cmd("SET", "b", "2")
	if err := os.WriteFile(path, []byte(whole+cmd("SET", "c", "3")[:20]), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, config{aofPath: path, appendFsync: fsyncAlways})
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(whole)) {
		t.Fatalf("file not truncated to its whole commands: %v, %v", fi.Size(), err)
	}
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("MGET", "a", "b", "c") + cmd("SET", "d", "4"))
	rc.mustReply("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n")
	rc.mustReply("+OK\r\n")
	ts.stop(t)
	data, _ := os.ReadFile(path)
	if string(data) != whole+cmd("SET", "d", "4") {
		t.Errorf("file after restart: %q", data)
	}
}

// TestAOFBadFile refuses to start on a file that is not a log of write
// commands.
func TestAOFBadFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "hello\r\n",
		"protocol":      "*1\r\n$x\r\n",
		"not-a-write":   cmd("GET", "a"),
		"unknown":       cmd("NOSUCH", "a"),
		"garbage-after": cmd("SET", "a", "1") + "junk",
	} {
		path := filepath.Join(t.TempDir(), name+".aof")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := newServer(config{aofPath: path}); err == nil {
			t.Errorf("%s: started on a bad file", name)
		}
	}
}

// TestAOFConcurrentLoops writes from many connections over two loops and
// checks the replay gives the same keyspace: the file holds writes to one
// key in the order they happened.
func TestAOFConcurrentLoops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	cfg := config{Listen: listenflags.Listen{Loops: 2}, aofPath: path, appendFsync: fsyncAlways}
	ts := startServer(t, cfg)
	rdb := newClient(t, "tcp", ts.tcpAddr)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		w := w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				rdb.Incr(ctx, "counter")
				rdb.Set(ctx, fmt.Sprintf("k%d", i%20), fmt.Sprintf("w%d-%d", w, i), 0)
				rdb.Append(ctx, "log", "x")
			}
		}()
	}
	wg.Wait()
	before := dumpKeyspace(t, ts.srv)
	ts.stop(t)
	ts2 := startServer(t, cfg)
	if after := dumpKeyspace(t, ts2.srv); after != before {
		t.Errorf("keyspace before restart:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(before, "counter=1600 ") {
		t.Errorf("counter lost increments:\n%s", before)
	}
}

// runMainEnv makes the test binary run the server's main instead of the
// tests, so that a test can kill a real server process.
const runMainEnv = "REDIS_SERVER_TEST_RUN_MAIN"

// TestAOFSurvivesKill9 runs the server as a process with appendfsync
// always, on each engine, streams SETs to it, kills it with SIGKILL in the
// middle, and checks every SET it acknowledged is in the file.
func TestAOFSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, engine := range []struct{ name, flag string }{{"poll", "-stdlib=false"}, {"portable", "-stdlib"}} {
		engine := engine
		t.Run(engine.name, func(t *testing.T) { testAOFSurvivesKill9(t, engine.flag) })
	}
}

func testAOFSurvivesKill9(t *testing.T, engineFlag string) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	proc := exec.Command(os.Args[0], "-test.run=^$", "--", "-bind", "127.0.0.1", "-port", "0", "-loops", "2",
		engineFlag, "-aof", path, "-appendfsync", "always")
	proc.Env = append(os.Environ(), runMainEnv+"=1")
	stdout, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			proc.Process.Kill()
			proc.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	m := regexp.MustCompile(`listening on tcp://(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	rc := dialRaw(t, "tcp", m[1])
	acked := 0
	for ; acked < 300; acked++ {
		rc.send(cmd("SET", fmt.Sprintf("key:%d", acked), fmt.Sprintf("value:%d", acked)))
		rc.mustReply("+OK\r\n")
	}
	// One more SET in flight as the process dies: it may or may not
	// survive, but those acknowledged must.
	rc.send(cmd("SET", "in-flight", "x"))
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	killed = true

	srv, err := newServer(config{aofPath: path, logf: t.Logf})
	if err != nil {
		t.Fatalf("replaying after kill -9: %v", err)
	}
	defer srv.aof.close()
	for i := 0; i < acked; i++ {
		key := fmt.Sprintf("key:%d", i)
		e, _ := srv.db.shardOf([]byte(key)).peek([]byte(key))
		if e == nil || string(e.value) != fmt.Sprintf("value:%d", i) {
			t.Fatalf("acknowledged %s lost after kill -9", key)
		}
	}
}
