package resp

import (
	"testing"
)

func TestServe(t *testing.T) {
	db := NewDB()
	var c Conn
	in := "PING\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nxyz\r\n*2\r\n$3\r\nget\r\n$3\r\nkey\r\n*2\r\n$3\r\nGET\r\n$1\r\nz\r\n*1\r\n$4\r\nPI"
	out, n, err := db.Serve(&c, nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "+PONG\r\n+OK\r\n$3\r\nxyz\r\n$-1\r\n"
	if string(out) != want {
		t.Fatalf("got %q want %q", out, want)
	}
	if rest := in[n:]; rest != "*1\r\n$4\r\nPI" {
		t.Fatalf("left %q", rest)
	}
}

func TestProtocolError(t *testing.T) {
	db := NewDB()
	var c Conn
	out, _, err := db.Serve(&c, nil, []byte("*1\r\n:3\r\n"))
	if err != ErrProtocol || string(out) != "-ERR Protocol error\r\n" {
		t.Fatalf("out %q err %v", out, err)
	}
}

func TestServeAllocs(t *testing.T) {
	db := NewDB()
	var c Conn
	in := []byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nxyz\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\n")
	buf := make([]byte, 0, 1024)
	db.Serve(&c, buf, in)
	if n := testing.AllocsPerRun(100, func() { db.Serve(&c, buf[:0], in) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func TestInlineCommands(t *testing.T) {
	db := NewDB()
	var c Conn
	out, n, err := db.Serve(&c, nil, []byte("SET  k\tv\r\nget k\nPING\r\nPIN"))
	if err != nil || n != len("SET  k\tv\r\nget k\nPING\r\n") {
		t.Fatalf("n %d err %v", n, err)
	}
	if want := "+OK\r\n$1\r\nv\r\n+PONG\r\n"; string(out) != want {
		t.Fatalf("got %q want %q", out, want)
	}
}
