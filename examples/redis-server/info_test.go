package main

import (
	"regexp"
	"strconv"
	"testing"
)

// TestInfoNetBytes: INFO's total_net_input_bytes and total_net_output_bytes
// come from evio's counters and grow with the traffic.
func TestInfoNetBytes(t *testing.T) {
	ts := startServer(t, config{})
	rc := dialRaw(t, "tcp", ts.tcpAddr)
	read := func() (in, out int) {
		rc.send(cmd("INFO", "stats"))
		reply, err := rc.readReply()
		if err != nil {
			t.Fatal(err)
		}
		get := func(name string) int {
			m := regexp.MustCompile(name + `:(\d+)`).FindStringSubmatch(reply)
			if m == nil {
				t.Fatalf("INFO has no %s: %q", name, reply)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return get("total_net_input_bytes"), get("total_net_output_bytes")
	}
	in1, out1 := read()
	value := string(make([]byte, 10000))
	rc.send(cmd("SET", "k", value))
	rc.mustReply("+OK\r\n")
	in2, out2 := read()
	if in2-in1 < 10000 {
		t.Fatalf("total_net_input_bytes grew by %d after a 10000-byte SET", in2-in1)
	}
	if out2 <= out1 {
		t.Fatalf("total_net_output_bytes did not grow: %d then %d", out1, out2)
	}
	rc.send(cmd("CONFIG", "RESETSTAT"))
	rc.mustReply("+OK\r\n")
	if in3, _ := read(); in3 >= in2 {
		t.Fatalf("total_net_input_bytes %d after CONFIG RESETSTAT, was %d", in3, in2)
	}
}
