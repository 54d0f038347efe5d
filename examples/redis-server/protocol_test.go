package main

import (
	"bytes"
	"fmt"
	"github.com/evio-go/evio/examples/internal/listenflags"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDeclaredLengthsAllocateNothing sends requests that declare a 512 MB
// bulk and two billion arguments but deliver little: the server's memory
// must grow with what arrives, not with what is declared.
func TestDeclaredLengthsAllocateNothing(t *testing.T) {
	ts := startServer(t, config{Listen: listenflags.Listen{Loops: 1}})
	requests := []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n" + strings.Repeat("x", 1000),
		"*2147483647\r\n" + strings.Repeat("$1\r\na\r\n", 1000),
		"*1\r\n$536870912\r\n",
	}
	for i, request := range requests {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rc := dialRaw(t, "tcp", ts.tcpAddr)
		rc.send(request)
		// A request that is still incomplete gets no reply: PING on
		// another connection shows the loop has read this one.
		probe := dialRaw(t, "tcp", ts.tcpAddr)
		probe.send("PING\r\n")
		probe.mustReply("+PONG\r\n")
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
			t.Errorf("request %d: %d MB allocated for %d bytes sent", i, grown>>20, len(request))
		}
		rc.conn.Close()
	}
}

// TestLargeValues sends values larger than one read, which the server must
// assemble across Data events, over TCP and the unix socket.
func TestLargeValues(t *testing.T) {
	ts := startServer(t, config{Listen: listenflags.Listen{Loops: 2}})
	for _, network := range []string{"tcp", "unix"} {
		addr := ts.tcpAddr
		if network == "unix" {
			addr = ts.unix
		}
		rc := dialRaw(t, network, addr)
		for _, size := range []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3 << 20} {
			value := bytes.Repeat([]byte{'v'}, size)
			for i := range value {
				value[i] = byte('a' + i%26)
			}
			key := fmt.Sprintf("big:%d", size)
			rc.send(cmd("SET", key, string(value)) + cmd("GET", key) + cmd("STRLEN", key))
			rc.mustReply("+OK\r\n")
			rc.mustReply(fmt.Sprintf("$%d\r\n%s\r\n", size, value))
			rc.mustReply(fmt.Sprintf(":%d\r\n", size))
		}
	}
}

// TestProtocolErrorClosesAfterReplies checks, on every setup, that the
// requests before a protocol error are answered, then the error, then the
// connection closes; and that a slowly dribbled request is assembled.
func TestProtocolErrorClosesAfterReplies(t *testing.T) {
	for _, s := range setups {
		s := s
		t.Run(s.name, func(t *testing.T) {
			_, network, addr := startSetup(t, s, config{})
			rc := dialRaw(t, network, addr)
			rc.send("PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\nPING\r\n")
			rc.mustReply("+PONG\r\n")
			rc.mustReply("+PONG\r\n")
			rc.mustReply("-ERR Protocol error: invalid bulk length\r\n")
			rc.mustClose()

			rc = dialRaw(t, network, addr)
			request := cmd("SET", "slow", "dribbled") + cmd("GET", "slow")
			for i := 0; i < len(request); i++ {
				rc.send(request[i : i+1])
				if i%7 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			rc.mustReply("+OK\r\n")
			rc.mustReply("$8\r\ndribbled\r\n")

			rc = dialRaw(t, network, addr)
			rc.send("\"unbalanced\r\n")
			rc.mustReply("-ERR Protocol error: unbalanced quotes in request\r\n")
			rc.mustClose()
		})
	}
}

// TestHello checks the answers this server gives where it differs from a
// Redis 7 on purpose: it speaks RESP2 only.
func TestHello(t *testing.T) {
	ts := startServer(t, config{})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("HELLO", "3") + cmd("HELLO", "3", "SETNAME", "x") + cmd("CLIENT", "GETNAME"))
	rc.mustReply("-NOPROTO unsupported protocol version\r\n")
	rc.mustReply("-NOPROTO unsupported protocol version\r\n")
	rc.mustReply("$-1\r\n")
	rc.send(cmd("CLIENT", "ID") + cmd("HELLO", "2", "SETNAME", "named") + cmd("HELLO") + cmd("CLIENT", "GETNAME"))
	id, err := rc.readReply()
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSuffix(strings.TrimPrefix(id, ":"), "\r\n")
	hello := "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n" + redisVersion + "\r\n$5\r\nproto\r\n:2\r\n" +
		"$2\r\nid\r\n:" + id + "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
	rc.mustReply(hello)
	rc.mustReply(hello)
	rc.mustReply("$5\r\nnamed\r\n")
}

// TestServerCommands checks the replies of COMMAND, INFO and CLIENT that
// clients parse, whose content is this server's own.
func TestServerCommands(t *testing.T) {
	ts := startServer(t, config{})
	rdb := newClient(t, "tcp", ts.tcpAddr)
	ctx := testContext(t)
	count, err := rdb.CommandList(ctx, nil).Result()
	if err != nil || len(count) != len(commandOrder) {
		t.Errorf("COMMAND LIST: %d names, %v", len(count), err)
	}
	infos, err := rdb.Command(ctx).Result()
	if err != nil {
		t.Fatalf("COMMAND: %v", err)
	}
	get := infos["get"]
	if get == nil || get.Arity != 2 || get.FirstKeyPos != 1 || !get.ReadOnly {
		t.Errorf("COMMAND's get: %+v", get)
	}
	if set := infos["set"]; set == nil || set.Arity != -3 || set.ReadOnly {
		t.Errorf("COMMAND's set: %+v", set)
	}
	// The new types' commands, as Redis 7.0 describes them.
	for name, want := range map[string]struct {
		arity    int8
		readOnly bool
		acl      string
	}{
		"lpush": {-3, false, "@list"}, "lrange": {4, true, "@list"}, "spop": {-2, false, "@set"}, "smembers": {2, true, "@set"},
		"hset": {-4, false, "@hash"}, "hgetall": {2, true, "@hash"}, "zadd": {-4, false, "@sortedset"}, "zrange": {-4, true, "@sortedset"},
	} {
		info := infos[name]
		if info == nil || info.Arity != want.arity || info.ReadOnly != want.readOnly || info.FirstKeyPos != 1 || info.LastKeyPos != 1 ||
			!strings.Contains(strings.Join(info.ACLFlags, " "), want.acl) {
			t.Errorf("COMMAND's %s: %+v", name, info)
		}
	}
	if docs, err := rdb.Do(ctx, "COMMAND", "DOCS", "zadd", "hset").Slice(); err != nil || len(docs) != 4 || docs[0] != "zadd" ||
		!strings.Contains(fmt.Sprint(docs[1]), "sorted-set") || !strings.Contains(fmt.Sprint(docs[3]), "hash") {
		t.Errorf("COMMAND DOCS zadd hset = %#v, %v", docs, err)
	}
	if n, err := rdb.Do(ctx, "COMMAND", "COUNT").Int(); err != nil || n != len(commandOrder) {
		t.Errorf("COMMAND COUNT = %d, %v", n, err)
	}
	docs, err := rdb.Do(ctx, "COMMAND", "DOCS", "get", "config").Slice()
	if err != nil || len(docs) != 4 || docs[0] != "get" {
		t.Errorf("COMMAND DOCS = %#v, %v", docs, err)
	}
	info, err := rdb.Info(ctx).Result()
	for _, want := range []string{"# Server\r\nredis_version:" + redisVersion, "connected_clients:", "aof_enabled:0", "role:master"} {
		if err != nil || !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q: %v", want, err)
		}
	}
	if info, err := rdb.Info(ctx, "stats").Result(); err != nil || strings.Contains(info, "# Server") || !strings.Contains(info, "total_commands_processed:") {
		t.Errorf("INFO stats = %q, %v", info, err)
	}
	list, err := rdb.ClientList(ctx).Result()
	if err != nil || !strings.HasPrefix(list, "id=") {
		t.Errorf("CLIENT LIST = %q, %v", list, err)
	}
	if v, err := rdb.Do(ctx, "CONFIG", "GET", "port").StringSlice(); err != nil || len(v) != 2 || !strings.HasSuffix(ts.tcpAddr, ":"+v[1]) {
		t.Errorf("CONFIG GET port = %q, %v (listening on %s)", v, err, ts.tcpAddr)
	}
	if err := rdb.Do(ctx, "TIME").Err(); err != nil {
		t.Errorf("TIME: %v", err)
	}
}

// TestShutdownCommand checks that SHUTDOWN stops the server.
func TestShutdownCommand(t *testing.T) {
	ts := startServer(t, config{Listen: listenflags.Listen{Loops: 2}})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("SHUTDOWN", "NOSAVE"))
	rc.mustClose()
	select {
	case err := <-ts.done:
		ts.stopped = true
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SHUTDOWN did not stop the server")
	}
}
