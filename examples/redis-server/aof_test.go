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
			value := dumpValue(e)
			lines = append(lines, fmt.Sprintf("%s=%s ttl=%d", key, value, ttl))
		}
		s.mu.RUnlock()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// dumpValue shows an entry's value: a string as it is (quoted if it has
// line breaks or NULs), a collection as its type and elements, in order
// (sets sorted, as their order is not theirs).
func dumpValue(e *entry) string {
	quote := func(b string) string {
		if b == "" || strings.ContainsAny(b, "\r\n\x00 ") {
			return fmt.Sprintf("%q", b)
		}
		return b
	}
	var parts []string
	switch v := e.coll.(type) {
	case nil:
		return quote(string(e.value))
	case *listValue:
		for i := 0; i < v.length(); i++ {
			parts = append(parts, quote(string(v.at(i))))
		}
	case *setValue:
		for _, m := range v.members {
			parts = append(parts, quote(m))
		}
		sort.Strings(parts)
	case *hashValue:
		for _, f := range v.fields {
			parts = append(parts, quote(f.name)+":"+quote(string(f.value)))
		}
	case *zsetValue:
		for node := v.order.first(); node != nil; node = node.next[0].node {
			parts = append(parts, quote(node.member)+":"+string(appendScore(nil, node.score)))
		}
	}
	return e.coll.typeName() + "[" + strings.Join(parts, " ") + "]"
}

// TestAOFReplayTypes writes with every write command of lists, sets,
// hashes and sorted sets, pops included, restarts the server on the same
// file, and checks the keyspace came back; SPOP, whose choice a replay
// could not repeat, and the sorted-set pops must be logged as removals.
func TestAOFReplayTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	cfg := config{Listen: listenflags.Listen{Loops: 2}, aofPath: path, appendFsync: fsyncAlways}
	ts := startServer(t, cfg)
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	var members []string
	for i := 0; i < 50; i++ {
		members = append(members, fmt.Sprint("m", i))
	}
	writes := []string{
		cmd("RPUSH", "list", "a", "b", "c", "d", "e"), cmd("LPUSH", "list", "z", "y"), cmd("LPOP", "list"), cmd("RPOP", "list", "2"),
		cmd("RPUSH", "gone-list", "x"), cmd("LPOP", "gone-list"), cmd("RPUSH", "bin-list", "a b", "\r\n", ""),
		cmd(append([]string{"SADD", "set"}, members...)...), cmd("SPOP", "set"), cmd("SPOP", "set", "10"), cmd("SREM", "set", "m1", "m2", "m3"),
		cmd("SADD", "gone-set", "a", "b"), cmd("SPOP", "gone-set", "5"), cmd("SADD", "small-set", "only"), cmd("SPOP", "small-set"),
		cmd("HSET", "hash", "f1", "v1", "f2", "v2", "f3", "v3"), cmd("HMSET", "hash", "f2", "new", "f4", "v4"), cmd("HDEL", "hash", "f1", "nope"),
		cmd("HSET", "gone-hash", "f", "v"), cmd("HDEL", "gone-hash", "f"),
		cmd("ZADD", "zset", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"), cmd("ZADD", "zset", "XX", "CH", "10", "a", "7", "nope"),
		cmd("ZADD", "zset", "INCR", "0.5", "b"), cmd("ZADD", "zset", "GT", "1", "c"), cmd("ZPOPMIN", "zset"), cmd("ZPOPMAX", "zset", "2"),
		cmd("ZREM", "zset", "nope", "d"), cmd("ZADD", "gone-zset", "1", "x"), cmd("ZPOPMIN", "gone-zset", "3"),
		cmd("RPUSH", "ttl-list", "a"), cmd("EXPIRE", "ttl-list", "1000"), cmd("RPUSH", "ttl-list", "b"),
		cmd("SADD", "replaced", "a"), cmd("SET", "replaced", "string now"), cmd("SET", "became-list", "s"), cmd("DEL", "became-list"),
		cmd("RPUSH", "became-list", "l"),
	}
	rc.send(strings.Join(writes, ""))
	for range writes {
		if reply, err := rc.readReply(); err != nil || strings.HasPrefix(reply, "-") {
			t.Fatalf("reply %q, %v", reply, err)
		}
	}
	before := dumpKeyspace(t, ts.srv)
	ts.stop(t)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	for _, unwanted := range []string{"SPOP", "ZPOPMIN", "ZPOPMAX"} {
		if strings.Contains(log, unwanted) {
			t.Errorf("the log holds %s, which a replay would not repeat the same way", unwanted)
		}
	}
	if strings.Count(log, "\r\nSREM\r\n") != 5 || strings.Count(log, "\r\nZREM\r\n") != 4 {
		t.Errorf("want SPOP logged as 4 SREMs (plus the SREM), the pops as 3 ZREMs (plus the ZREM); the log:\n%q", log)
	}

	ts2 := startServer(t, cfg)
	after := dumpKeyspace(t, ts2.srv)
	if before != after {
		t.Errorf("keyspace before restart:\n%s\nafter:\n%s", before, after)
	}
	for _, want := range []string{
		"list=list[z a b c] ttl=-1", `bin-list=list["a b" "\r\n" ""]`, "hash=hash[f2:new f3:v3 f4:v4] ttl=-1",
		"zset=zset[c:3] ttl=-1", "replaced=\"string now\" ttl=-1", "became-list=list[l] ttl=-1",
	} {
		if !strings.Contains(after, want) {
			t.Errorf("replayed keyspace lacks %q:\n%s", want, after)
		}
	}
	// 50 members, 11 popped, and up to 3 of m1, m2 and m3 removed if
	// the pops left them.
	if !regexp.MustCompile(`(?m)^set=set\[(m\d+ ?){36,39}\] ttl=-1$`).MatchString(after) {
		t.Errorf("replayed set is not 36 to 39 members:\n%s", after)
	}
	if !regexp.MustCompile(`(?m)^ttl-list=list\[a b\] ttl=[1-9]`).MatchString(after) {
		t.Errorf("ttl-list lost its expiry or elements:\n%s", after)
	}
	for _, gone := range []string{"gone-", "small-set"} {
		if strings.Contains(after, gone) {
			t.Errorf("replayed keyspace has %q:\n%s", gone, after)
		}
	}
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
