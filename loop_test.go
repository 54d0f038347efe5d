package evio

import (
	"testing"
	"unsafe"
)

// TestStaleTokenReachesNoOne: a poller event carries the slot and the
// generation its connection was registered with. Once that connection is
// gone and another has taken its slot (as a reused descriptor would, inside
// one batch of events), the old token names no connection.
func TestStaleTokenReachesNoOne(t *testing.T) {
	l := newServer(Events{}, 1, nil).loops[0]
	first := &conn{slot: -1}
	l.register(first)
	slot, gen := first.slot, first.gen
	l.unregister(first)
	second := &conn{slot: -1}
	l.register(second)
	if second.slot != slot {
		t.Fatalf("the free slot %d was not reused (got %d)", slot, second.slot)
	}
	if c := l.connAt(slot, gen); c != nil {
		t.Fatal("an event of the closed connection reached the one that took its slot")
	}
	if c := l.connAt(second.slot, second.gen); c != second {
		t.Fatal("the new connection's own token does not reach it")
	}
	if c := l.connAt(slot+100, gen); c != nil {
		t.Fatal("a token beyond the table named a connection")
	}
}

// TestConnFits112Bytes: a connection's struct is an idle server's memory;
// it fits the 112-byte size class of Go's allocator. What only some
// connections need goes in connExt.
func TestConnFits112Bytes(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 112 {
		t.Fatalf("conn is %d bytes, want at most 112", n)
	}
}
