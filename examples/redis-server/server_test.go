package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGoRedis drives every command through go-redis, on every setup: TCP
// and unix sockets, one and two loops, and the portable engine.
func TestGoRedis(t *testing.T) {
	for _, s := range setups {
		s := s
		t.Run(s.name, func(t *testing.T) {
			_, network, addr := startSetup(t, s, config{})
			rdb := newClient(t, network, addr)
			ctx := testContext(t)
			if err := rdb.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING: %v", err)
			}
			t.Run("commands", func(t *testing.T) { testCommands(t, ctx, rdb) })
			t.Run("typed-api", func(t *testing.T) { testTypedAPI(t, ctx, rdb) })
			t.Run("collections", func(t *testing.T) { testCollections(t, ctx, rdb) })
			t.Run("pipeline", func(t *testing.T) { testPipeline(t, ctx, rdb) })
			t.Run("concurrent", func(t *testing.T) { testConcurrent(t, ctx, rdb) })
			t.Run("connect-handshake", func(t *testing.T) { testHandshake(t, ctx, network, addr) })
		})
	}
}

// doCase is one command sent with Client.Do and the value go-redis
// returns: string, int64, []interface{} or nil (for redis.Nil).
type doCase struct {
	args    []interface{}
	want    interface{}
	wantErr string // the error's text, for an error reply
}

func testCommands(t *testing.T, ctx context.Context, rdb *redis.Client) {
	ok := "OK"
	cases := []doCase{
		{args: []interface{}{"FLUSHALL"}, want: ok},
		{args: []interface{}{"PING"}, want: "PONG"},
		{args: []interface{}{"PING", "hi"}, want: "hi"},
		{args: []interface{}{"ECHO", "hello world"}, want: "hello world"},
		{args: []interface{}{"SET", "k", "v"}, want: ok},
		{args: []interface{}{"GET", "k"}, want: "v"},
		{args: []interface{}{"GET", "nokey"}, want: nil},
		{args: []interface{}{"SET", "k", "v2", "NX"}, want: nil},
		{args: []interface{}{"SET", "k", "v2", "XX"}, want: ok},
		{args: []interface{}{"SET", "new", "v", "XX"}, want: nil},
		{args: []interface{}{"SET", "k", "v3", "GET"}, want: "v2"},
		{args: []interface{}{"SET", "ex", "v", "EX", "100"}, want: ok},
		{args: []interface{}{"TTL", "ex"}, want: int64(100)},
		{args: []interface{}{"SET", "px", "v", "PX", "100000"}, want: ok},
		{args: []interface{}{"TTL", "px"}, want: int64(100)},
		{args: []interface{}{"SET", "px", "v", "EX", "0"}, wantErr: "ERR invalid expire time in 'set' command"},
		{args: []interface{}{"SET", "px", "v", "NX", "XX"}, wantErr: "ERR syntax error"},
		{args: []interface{}{"GETSET", "k", "v4"}, want: "v3"},
		{args: []interface{}{"GETSET", "fresh", "v"}, want: nil},
		{args: []interface{}{"DEL", "k", "fresh", "nokey"}, want: int64(2)},
		{args: []interface{}{"EXISTS", "k", "ex", "ex", "nokey"}, want: int64(2)},
		{args: []interface{}{"INCR", "n"}, want: int64(1)},
		{args: []interface{}{"INCRBY", "n", "41"}, want: int64(42)},
		{args: []interface{}{"DECR", "n"}, want: int64(41)},
		{args: []interface{}{"DECRBY", "n", "40"}, want: int64(1)},
		{args: []interface{}{"INCRBY", "n", "x"}, wantErr: "ERR value is not an integer or out of range"},
		{args: []interface{}{"SET", "max", "9223372036854775807"}, want: ok},
		{args: []interface{}{"INCR", "max"}, wantErr: "ERR increment or decrement would overflow"},
		{args: []interface{}{"APPEND", "ap", "foo"}, want: int64(3)},
		{args: []interface{}{"APPEND", "ap", "bar"}, want: int64(6)},
		{args: []interface{}{"STRLEN", "ap"}, want: int64(6)},
		{args: []interface{}{"STRLEN", "nokey"}, want: int64(0)},
		{args: []interface{}{"MSET", "a", "1", "b", "2"}, want: ok},
		{args: []interface{}{"MGET", "a", "nokey", "b"}, want: []interface{}{"1", nil, "2"}},
		{args: []interface{}{"MSET", "a"}, wantErr: "ERR wrong number of arguments for 'mset' command"},
		{args: []interface{}{"EXPIRE", "a", "100"}, want: int64(1)},
		{args: []interface{}{"TTL", "a"}, want: int64(100)},
		{args: []interface{}{"PEXPIRE", "b", "100000"}, want: int64(1)},
		{args: []interface{}{"PERSIST", "b"}, want: int64(1)},
		{args: []interface{}{"PERSIST", "b"}, want: int64(0)},
		{args: []interface{}{"TTL", "b"}, want: int64(-1)},
		{args: []interface{}{"PTTL", "nokey"}, want: int64(-2)},
		{args: []interface{}{"EXPIRE", "b", "-1"}, want: int64(1)},
		{args: []interface{}{"EXISTS", "b"}, want: int64(0)},
		{args: []interface{}{"TYPE", "a"}, want: "string"},
		{args: []interface{}{"GETDEL", "a"}, want: "1"},
		{args: []interface{}{"SETNX", "nx", "1"}, want: int64(1)},
		{args: []interface{}{"SETNX", "nx", "2"}, want: int64(0)},
		{args: []interface{}{"SETEX", "se", "100", "v"}, want: ok},
		{args: []interface{}{"PSETEX", "pse", "100000", "v"}, want: ok},
		{args: []interface{}{"UNLINK", "se", "pse"}, want: int64(2)},
		{args: []interface{}{"SELECT", "0"}, want: ok},
		{args: []interface{}{"SELECT", "1"}, wantErr: "ERR DB index is out of range"},
		{args: []interface{}{"CONFIG", "GET", "databases"}, want: []interface{}{"databases", "1"}},
		{args: []interface{}{"CONFIG", "GET", "appendonly"}, want: []interface{}{"appendonly", "no"}},
		{args: []interface{}{"CONFIG", "GET", "save"}, want: []interface{}{"save", ""}},
		{args: []interface{}{"CLIENT", "SETNAME", "tester"}, want: ok},
		{args: []interface{}{"CLIENT", "GETNAME"}, want: "tester"},
		{args: []interface{}{"CLIENT", "SETINFO", "LIB-NAME", "mylib"}, want: ok},
		{args: []interface{}{"CLIENT", "SETINFO", "foo", "x"}, wantErr: "ERR Unrecognized option 'foo'"},
		{args: []interface{}{"HELLO", "3"}, wantErr: "NOPROTO unsupported protocol version"},
		{args: []interface{}{"NOSUCH", "a"}, wantErr: "ERR unknown command 'NOSUCH', with args beginning with: 'a' "},
		{args: []interface{}{"GET"}, wantErr: "ERR wrong number of arguments for 'get' command"},
		{args: []interface{}{"FLUSHDB"}, want: ok},
		{args: []interface{}{"DBSIZE"}, want: int64(0)},
	}
	for _, tc := range cases {
		got, err := rdb.Do(ctx, tc.args...).Result()
		name := fmt.Sprint(tc.args)
		switch {
		case tc.wantErr != "":
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error %v, want %q", name, err, tc.wantErr)
			}
		case tc.want == nil:
			if !errors.Is(err, redis.Nil) {
				t.Errorf("%s: got %#v, %v; want nil", name, got, err)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case !reflect.DeepEqual(got, tc.want):
			t.Errorf("%s: got %#v, want %#v", name, got, tc.want)
		}
	}
}

// testTypedAPI uses go-redis's typed methods, as applications do.
func testTypedAPI(t *testing.T, ctx context.Context, rdb *redis.Client) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.FlushDB(ctx).Err())
	must(rdb.Set(ctx, "user:1", "alice", 0).Err())
	must(rdb.Set(ctx, "user:2", "bob", time.Hour).Err())
	if v, err := rdb.Get(ctx, "user:1").Result(); err != nil || v != "alice" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if _, err := rdb.Get(ctx, "user:3").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("Get of a missing key: %v, want redis.Nil", err)
	}
	if ttl, err := rdb.TTL(ctx, "user:2").Result(); err != nil || ttl != time.Hour {
		t.Errorf("TTL = %v, %v; want 1h", ttl, err)
	}
	if ok, err := rdb.SetNX(ctx, "user:1", "eve", 0).Result(); err != nil || ok {
		t.Errorf("SetNX on an existing key = %v, %v", ok, err)
	}
	if ok, err := rdb.SetXX(ctx, "user:9", "eve", 0).Result(); err != nil || ok {
		t.Errorf("SetXX on a missing key = %v, %v", ok, err)
	}
	keys, err := rdb.Keys(ctx, "user:*").Result()
	sort.Strings(keys)
	if err != nil || !reflect.DeepEqual(keys, []string{"user:1", "user:2"}) {
		t.Errorf("Keys(user:*) = %q, %v", keys, err)
	}
	if n, err := rdb.Incr(ctx, "hits").Result(); err != nil || n != 1 {
		t.Errorf("Incr = %d, %v", n, err)
	}
	if n, err := rdb.IncrBy(ctx, "hits", 9).Result(); err != nil || n != 10 {
		t.Errorf("IncrBy = %d, %v", n, err)
	}
	vals, err := rdb.MGet(ctx, "user:1", "nokey", "hits").Result()
	if err != nil || !reflect.DeepEqual(vals, []interface{}{"alice", nil, "10"}) {
		t.Errorf("MGet = %#v, %v", vals, err)
	}
	if ok, err := rdb.Expire(ctx, "user:1", time.Minute).Result(); err != nil || !ok {
		t.Errorf("Expire = %v, %v", ok, err)
	}
	if d, err := rdb.PTTL(ctx, "user:1").Result(); err != nil || d <= 59*time.Second || d > time.Minute {
		t.Errorf("PTTL = %v, %v", d, err)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 3 {
		t.Errorf("DBSize = %d, %v; want 3", n, err)
	}
	info, err := rdb.Info(ctx, "keyspace").Result()
	if err != nil || !strings.Contains(info, "db0:keys=3,expires=2") {
		t.Errorf("Info(keyspace) = %q, %v", info, err)
	}
	// A key set with a short expiry goes (lazily on access here; the
	// active expiry has tests of its own).
	must(rdb.Set(ctx, "session:1", "x", 100*time.Millisecond).Err())
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := rdb.Exists(ctx, "session:1").Result()
		must(err)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session:1 did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// QUIT answers OK, then the server closes that connection.
	conn := rdb.Conn()
	defer conn.Close()
	if v, err := conn.Do(ctx, "QUIT").Result(); err != nil || v != "OK" {
		t.Errorf("QUIT = %v, %v", v, err)
	}
	if err := conn.Ping(ctx).Err(); err == nil {
		t.Error("PING after QUIT succeeded on the same connection")
	}
}

// testCollections uses go-redis's typed methods for lists, sets, hashes
// and sorted sets, whose replies it parses into Go maps and structs.
func testCollections(t *testing.T, ctx context.Context, rdb *redis.Client) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.FlushDB(ctx).Err())

	if n, err := rdb.RPush(ctx, "queue", "a", "b", "c").Result(); err != nil || n != 3 {
		t.Errorf("RPush = %d, %v", n, err)
	}
	must(rdb.LPush(ctx, "queue", "first").Err())
	if v, err := rdb.LRange(ctx, "queue", 0, -1).Result(); err != nil || !reflect.DeepEqual(v, []string{"first", "a", "b", "c"}) {
		t.Errorf("LRange = %q, %v", v, err)
	}
	if v, err := rdb.LPop(ctx, "queue").Result(); err != nil || v != "first" {
		t.Errorf("LPop = %q, %v", v, err)
	}
	if v, err := rdb.RPopCount(ctx, "queue", 2).Result(); err != nil || !reflect.DeepEqual(v, []string{"c", "b"}) {
		t.Errorf("RPopCount = %q, %v", v, err)
	}
	if _, err := rdb.LPopCount(ctx, "nolist", 2).Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("LPopCount of a missing list: %v, want redis.Nil", err)
	}
	if n, err := rdb.LLen(ctx, "queue").Result(); err != nil || n != 1 {
		t.Errorf("LLen = %d, %v", n, err)
	}

	must(rdb.SAdd(ctx, "tags", "go", "redis", "evio").Err())
	if v, err := rdb.SMembers(ctx, "tags").Result(); err != nil || len(v) != 3 {
		t.Errorf("SMembers = %q, %v", v, err)
	}
	if ok, err := rdb.SIsMember(ctx, "tags", "go").Result(); err != nil || !ok {
		t.Errorf("SIsMember = %v, %v", ok, err)
	}
	popped, err := rdb.SPopN(ctx, "tags", 5).Result()
	sort.Strings(popped)
	if err != nil || !reflect.DeepEqual(popped, []string{"evio", "go", "redis"}) {
		t.Errorf("SPopN = %q, %v", popped, err)
	}
	if n, err := rdb.Exists(ctx, "tags").Result(); err != nil || n != 0 {
		t.Errorf("the emptied set still exists: %d, %v", n, err)
	}

	if n, err := rdb.HSet(ctx, "user:1", map[string]interface{}{"name": "alice", "age": 30}).Result(); err != nil || n != 2 {
		t.Errorf("HSet = %d, %v", n, err)
	}
	if v, err := rdb.HGetAll(ctx, "user:1").Result(); err != nil || !reflect.DeepEqual(v, map[string]string{"name": "alice", "age": "30"}) {
		t.Errorf("HGetAll = %v, %v", v, err)
	}
	if v, err := rdb.HMGet(ctx, "user:1", "name", "nofield").Result(); err != nil || !reflect.DeepEqual(v, []interface{}{"alice", nil}) {
		t.Errorf("HMGet = %#v, %v", v, err)
	}
	if n, err := rdb.HDel(ctx, "user:1", "age").Result(); err != nil || n != 1 {
		t.Errorf("HDel = %d, %v", n, err)
	}

	must(rdb.ZAdd(ctx, "board", redis.Z{Score: 10, Member: "ann"}, redis.Z{Score: 2.5, Member: "bob"}, redis.Z{Score: 7, Member: "cy"}).Err())
	if n, err := rdb.ZAddArgs(ctx, "board", redis.ZAddArgs{GT: true, Ch: true, Members: []redis.Z{{Score: 1, Member: "ann"}, {Score: 3, Member: "bob"}}}).Result(); err != nil || n != 1 {
		t.Errorf("ZAddArgs GT CH = %d, %v", n, err)
	}
	if v, err := rdb.ZRangeWithScores(ctx, "board", 0, -1).Result(); err != nil ||
		!reflect.DeepEqual(v, []redis.Z{{Score: 3, Member: "bob"}, {Score: 7, Member: "cy"}, {Score: 10, Member: "ann"}}) {
		t.Errorf("ZRangeWithScores = %v, %v", v, err)
	}
	if v, err := rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: "board", Start: "(3", Stop: "+inf", ByScore: true, Rev: false}).Result(); err != nil ||
		!reflect.DeepEqual(v, []string{"cy", "ann"}) {
		t.Errorf("ZRangeArgs BYSCORE = %q, %v", v, err)
	}
	if v, err := rdb.ZScore(ctx, "board", "cy").Result(); err != nil || v != 7 {
		t.Errorf("ZScore = %v, %v", v, err)
	}
	if v, err := rdb.ZPopMin(ctx, "board").Result(); err != nil || !reflect.DeepEqual(v, []redis.Z{{Score: 3, Member: "bob"}}) {
		t.Errorf("ZPopMin = %v, %v", v, err)
	}

	for key, want := range map[string]string{"queue": "list", "user:1": "hash", "board": "zset", "nokey": "none"} {
		if v, err := rdb.Type(ctx, key).Result(); err != nil || v != want {
			t.Errorf("Type(%s) = %q, %v; want %q", key, v, err, want)
		}
	}
	if err := rdb.Get(ctx, "queue").Err(); err == nil || err.Error() != errWrongType {
		t.Errorf("Get of a list: %v, want %q", err, errWrongType)
	}
}

// testPipeline sends many commands in one write and checks every reply
// came back in order.
func testPipeline(t *testing.T, ctx context.Context, rdb *redis.Client) {
	const n = 1000
	pipe := rdb.Pipeline()
	sets := make([]*redis.StatusCmd, n)
	gets := make([]*redis.StringCmd, n)
	for i := 0; i < n; i++ {
		sets[i] = pipe.Set(ctx, fmt.Sprintf("pipe:%d", i), strings.Repeat("x", i), 0)
		gets[i] = pipe.Get(ctx, fmt.Sprintf("pipe:%d", i))
	}
	incr := pipe.IncrBy(ctx, "pipe:counter", n)
	// One command with thousands of arguments, in the same pipeline.
	var pairs []interface{}
	var keys []string
	for i := 0; i < 5000; i++ {
		pairs = append(pairs, fmt.Sprintf("many:%d", i), i)
		keys = append(keys, fmt.Sprintf("many:%d", i))
	}
	pipe.MSet(ctx, pairs...)
	mget := pipe.MGet(ctx, keys...)
	del := pipe.Del(ctx, keys...)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	for i := 0; i < n; i++ {
		if err := sets[i].Err(); err != nil {
			t.Fatalf("SET %d: %v", i, err)
		}
		if v := gets[i].Val(); v != strings.Repeat("x", i) {
			t.Fatalf("GET %d: %d bytes, want %d", i, len(v), i)
		}
	}
	if incr.Val() != n {
		t.Errorf("INCRBY = %d", incr.Val())
	}
	if vals := mget.Val(); len(vals) != len(keys) || vals[0] != "0" || vals[len(vals)-1] != fmt.Sprint(len(keys)-1) {
		t.Errorf("MGET of %d keys: %d values, %v", len(keys), len(vals), mget.Err())
	}
	if del.Val() != int64(len(keys)) {
		t.Errorf("DEL of %d keys = %d", len(keys), del.Val())
	}
}

// testConcurrent runs goroutines that each own some keys and one shared
// counter, over go-redis's pool (so over several connections, spread over
// the loops).
func testConcurrent(t *testing.T, ctx context.Context, rdb *redis.Client) {
	const workers, rounds = 16, 100
	if err := rdb.Del(ctx, "shared").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		w := w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				key := fmt.Sprintf("w%d:%d", w, i%10)
				value := fmt.Sprintf("%d-%d", w, i)
				if err := rdb.Set(ctx, key, value, 0).Err(); err != nil {
					errs <- err
					return
				}
				got, err := rdb.Get(ctx, key).Result()
				if err != nil || got != value {
					errs <- fmt.Errorf("worker %d: GET %s = %q, %v; want %q", w, key, got, err, value)
					return
				}
				if err := rdb.Incr(ctx, "shared").Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := rdb.Get(ctx, "shared").Int(); err != nil || n != workers*rounds {
		t.Errorf("shared counter = %d, %v; want %d", n, err, workers*rounds)
	}
}

// testHandshake connects with go-redis's full defaults, maintenance
// notifications included: HELLO 3 fails with NOPROTO, so it falls back to
// RESP2, then sends CLIENT SETINFO and CLIENT MAINT_NOTIFICATIONS (refused
// as an unknown subcommand, after which it carries on).
func testHandshake(t *testing.T, ctx context.Context, network, addr string) {
	rdb := redis.NewClient(&redis.Options{Network: network, Addr: addr, ClientName: "handshake", DialTimeout: 5 * time.Second})
	defer rdb.Close()
	if err := rdb.Set(ctx, "hs", "1", 0).Err(); err != nil {
		t.Fatalf("first command after the handshake: %v", err)
	}
	if name, err := rdb.ClientGetName(ctx).Result(); err != nil || name != "handshake" {
		t.Errorf("CLIENT GETNAME = %q, %v", name, err)
	}
	info, err := rdb.ClientInfo(ctx).Result()
	if err != nil {
		t.Logf("CLIENT INFO through go-redis: %v", err)
	} else if info.LibName == "" {
		t.Errorf("CLIENT INFO shows no lib-name: %+v", info)
	}
}
