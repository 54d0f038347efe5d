package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// thousandSets is an append-only file of 1,000 SETs of key:NNNN to
// value:NNNN, and the offset where each command starts.
func thousandSets() (log []byte, starts []int) {
	for i := 0; i < 1000; i++ {
		starts = append(starts, len(log))
		log = append(log, cmd("SET", fmt.Sprintf("key:%04d", i), fmt.Sprintf("value:%04d", i))...)
	}
	return log, starts
}

// writeLog writes data to a new file in a temporary directory.
func writeLog(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// splice returns data with data[at:at+n] replaced by with.
func splice(data []byte, at, n int, with string) []byte {
	out := append([]byte(nil), data[:at]...)
	out = append(out, with...)
	return append(out, data[at+n:]...)
}

// namesOffset reports whether err's message names the byte offset.
func namesOffset(err error, offset int) bool {
	return regexp.MustCompile(fmt.Sprintf(`\boffset %d\b`, offset)).MatchString(err.Error())
}

// TestAOFDamageRefusesToStart damages one spot of a file of 1,000 SETs:
// the server must not start, must say at which byte the damage is, and
// must leave the file as it was.
func TestAOFDamageRefusesToStart(t *testing.T) {
	log, starts := thousandSets()
	mid := starts[500]
	// The value's length of command 500: "*3\r\n$3\r\nSET\r\n$8\r\nkey:0500\r\n" comes first.
	valueHeader := mid + len("*3\r\n$3\r\nSET\r\n$8\r\nkey:0500\r\n")
	if got := string(log[valueHeader : valueHeader+5]); got != "$10\r\n" {
		t.Fatalf("value header is %q", got)
	}
	cases := []struct {
		name   string
		data   []byte
		offset int // where the error must say the damage is
	}{
		// The length swallows the rest of the file: what used to be cut
		// off, leaving 500 keys.
		{"length past the end", splice(log, valueHeader, 3, "$999999"), valueHeader},
		{"length too long", splice(log, valueHeader, 3, "$12"), valueHeader},
		{"length too short", splice(log, valueHeader, 3, "$9"), valueHeader},
		{"length not a number", splice(log, valueHeader, 3, "$1x"), valueHeader + 2},
		{"count too large", splice(log, mid, 2, "*4"), starts[501]},
		{"count too small", splice(log, mid, 2, "*2"), mid},
		{"marker", splice(log, valueHeader, 1, "#"), valueHeader},
		{"line feed", splice(log, valueHeader+3, 2, "\r\r"), valueHeader + 4},
		{"garbage between commands", splice(log, mid, 0, "garbage\r\n"), mid},
		{"zeros between commands", splice(log, mid, 0, "\x00\x00\x00\x00"), mid},
		{"empty command", splice(log, mid, 0, "*0\r\n"), mid},
		{"unknown command", splice(log, mid, 0, cmd("NOSUCH", "a")), mid},
		{"read command", splice(log, mid, 0, cmd("GET", "a")), mid},
		{"command that fails", splice(log, mid, 0, cmd("INCR", "key:0001")), mid},
		{"wrong arity", splice(log, mid, 0, cmd("SET", "a")), mid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLog(t, tc.data)
			srv, err := newServer(config{aofPath: path, logf: t.Logf})
			if err == nil {
				srv.aof.close()
				keys, _ := srv.db.size()
				t.Fatalf("started on a damaged file, with %d keys", keys)
			}
			if !namesOffset(err, tc.offset) {
				t.Errorf("error %q does not name offset %d", err, tc.offset)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, tc.data) {
				t.Errorf("the damaged file was changed: %d bytes before, %d after", len(tc.data), len(after))
			}
		})
	}
}

// TestAOFTornLastCommand cuts the last of 1,000 SETs at every byte, as a
// crash in the middle of a write may: the server loads the 999 whole
// ones, cuts the torn one off, and appends after them.
func TestAOFTornLastCommand(t *testing.T) {
	log, starts := thousandSets()
	last := starts[999]
	for cut := last + 1; cut < len(log); cut++ {
		path := writeLog(t, log[:cut])
		srv, err := newServer(config{aofPath: path, logf: func(string, ...interface{}) {}})
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", cut, len(log), err)
		}
		keys, _ := srv.db.size()
		srv.aof.close()
		if keys != 999 {
			t.Errorf("cut at %d: %d keys, want 999", cut, keys)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != int64(last) {
			t.Errorf("cut at %d: file not truncated to its %d bytes of whole commands: %v, %v", cut, last, fi.Size(), err)
		}
	}

	// And the server keeps serving, appending well-formed commands.
	path := writeLog(t, log[:len(log)-7])
	ts := startServer(t, config{aofPath: path, appendFsync: fsyncAlways})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	rc.send(cmd("GET", "key:0998") + cmd("GET", "key:0999") + cmd("SET", "key:0999", "again"))
	rc.mustReply("$10\r\nvalue:0998\r\n")
	rc.mustReply("$-1\r\n")
	rc.mustReply("+OK\r\n")
	ts.stop(t)
	ts = startServer(t, config{aofPath: path})
	if keys, _ := ts.srv.db.size(); keys != 1000 {
		t.Errorf("%d keys after the restart, want 1000", keys)
	}
}

// TestAOFTrailingGarbage ends a file of whole commands with bytes that
// cannot be the start of a command: that is damage, not a torn write.
func TestAOFTrailingGarbage(t *testing.T) {
	log, _ := thousandSets()
	end := len(log)
	for name, tail := range map[string]string{
		"text":                 "garbage",
		"zeros":                "\x00\x00\x00\x00\x00\x00\x00\x00",
		"not a count":          "*x",
		"empty command":        "*0\r\n",
		"negative count":       "*-1\r\n",
		"leading zero":         "*03\r\n",
		"bad line feed":        "*3\r\r",
		"not a bulk":           "*3\r\n+SET\r\n",
		"bulk not ended":       "*3\r\n$3\r\nSETX",
		"unknown command":      "*2\r\n$6\r\nNOSUCH\r\n$1\r",
		"read command":         "*2\r\n$3\r\nGET\r\n$1",
		"wrong arity":          "*2\r\n$3\r\nSET\r\n$1\r\nk",
		"length over commands": "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9999\r\nv\r\n" + cmd("SET", "a", "b") + cmd("SET", "c", "d")[:9],
	} {
		t.Run(name, func(t *testing.T) {
			data := append(append([]byte(nil), log...), tail...)
			path := writeLog(t, data)
			srv, err := newServer(config{aofPath: path, logf: t.Logf})
			if err == nil {
				srv.aof.close()
				t.Fatal("started on a file ending in garbage")
			}
			if !namesOffset(err, end) {
				t.Errorf("error %q does not name the offset of the damaged command, %d", err, end)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Errorf("the file was changed: %d bytes before, %d after", len(data), len(after))
			}
		})
	}
}

// FuzzAOFLoad loads arbitrary bytes as an append-only file: nothing may
// panic, damage must be reported within the file, and what a load keeps
// of a file with a torn tail must load again whole.
func FuzzAOFLoad(f *testing.F) {
	log, _ := thousandSets()
	for _, seed := range []string{
		cmd("SET", "a", "1") + cmd("INCR", "a") + cmd("PEXPIREAT", "a", "1") + cmd("APPEND", "a", "x"),
		cmd("SET", "a", "1", "PXAT", "1") + cmd("SET", "b", "v")[:9],
		cmd("SET", "a", "1") + "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$99\r\nv\r\n" + cmd("DEL", "a"),
		cmd("MSET", "a", "1", "b", "2") + "*0\r\n",
		cmd("RPUSH", "l", "a", "b") + cmd("LPOP", "l", "5") + cmd("SADD", "s", "x") + cmd("SREM", "s", "x") + cmd("HSET", "h", "f", "v"),
		cmd("ZADD", "z", "1", "a", "2", "b") + cmd("ZREM", "z", "a") + cmd("ZADD", "z", "INCR", "inf", "b") + cmd("ZADD", "z", "INCR", "-inf", "b"),
		string(log[:200]),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, err := newServer(config{})
		if err != nil {
			t.Fatal(err)
		}
		good, err := srv.replay(data)
		if err != nil {
			var damage *aofDamage
			if !errors.As(err, &damage) || damage.offset < 0 || damage.offset >= len(data) || damage.command > damage.offset {
				t.Fatalf("error %v for a file of %d bytes", err, len(data))
			}
			return
		}
		if good < 0 || good > len(data) {
			t.Fatalf("%d whole bytes in a file of %d", good, len(data))
		}
		again, err := newServer(config{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := again.replay(data[:good]); err != nil || n != good {
			t.Fatalf("the %d whole bytes of %q load as %d, %v", good, data, n, err)
		}
	})
}
