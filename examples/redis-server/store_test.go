package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSortUnique(t *testing.T) {
	cases := []struct{ in, want []int }{
		{nil, []int{}},
		{[]int{3}, []int{3}},
		{[]int{5, 1, 5, 3, 1}, []int{1, 3, 5}},
		{[]int{2, 2, 2}, []int{2}},
	}
	for _, tc := range cases {
		in := append([]int(nil), tc.in...)
		if got := sortUnique(in); !reflect.DeepEqual(append([]int{}, got...), tc.want) {
			t.Errorf("sortUnique(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCopyValueReusesSnugMemory(t *testing.T) {
	old := make([]byte, 10, 16)
	if got := copyValue(old, []byte("abcdefgh")); &got[0] != &old[0] || string(got) != "abcdefgh" {
		t.Error("a value that fits was not copied into the old memory")
	}
	big := make([]byte, 0, 1<<20)
	if got := copyValue(big, []byte("x")); cap(got) == cap(big) {
		t.Error("a 1 MB buffer was kept for a 1-byte value")
	}
	if got := copyValue(nil, []byte("fresh")); string(got) != "fresh" {
		t.Errorf("copyValue(nil) = %q", got)
	}
}

// TestActiveExpiry checks that keys nobody reads are deleted by Tick's
// sampling, and that each cycle keeps to its time budget.
func TestActiveExpiry(t *testing.T) {
	db := newKeyspace(nil)
	const keys = 20000
	soon := db.now() + 50
	for i := 0; i < keys; i++ {
		key := []byte(fmt.Sprintf("k%d", i))
		db.shardOf(key).set(key, []byte("v"), soon)
	}
	persistent := []byte("persistent")
	db.shardOf(persistent).set(persistent, []byte("v"), 0)
	time.Sleep(60 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	deleted := 0
	for {
		start := time.Now()
		deleted += db.activeExpireCycle()
		if d := time.Since(start); d > expireCycleTime+20*time.Millisecond {
			t.Errorf("one cycle took %v, budget %v", d, expireCycleTime)
		}
		if n, _ := db.size(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			n, _ := db.size()
			t.Fatalf("%d keys left after 10s of cycles", n)
		}
	}
	if deleted != keys {
		t.Errorf("deleted %d keys, want %d", deleted, keys)
	}
	if e, _ := db.shardOf(persistent).peek(persistent); e == nil {
		t.Error("the persistent key was deleted")
	}
}

// TestActiveExpiryThroughTick checks that a running server reclaims
// expired keys that no client reads.
func TestActiveExpiryThroughTick(t *testing.T) {
	ts := startServer(t, config{})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	for i := 0; i < 100; i++ {
		rc.send(cmd("SET", fmt.Sprintf("k%d", i), "v", "PX", "20"))
		rc.mustReply("+OK\r\n")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := ts.srv.db.size(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired keys were not reclaimed within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc.send(cmd("INFO", "stats"))
	if reply, err := rc.readReply(); err != nil || !strings.Contains(reply, "expired_keys:100\r\n") {
		t.Errorf("INFO stats = %q, %v", reply, err)
	}
}
