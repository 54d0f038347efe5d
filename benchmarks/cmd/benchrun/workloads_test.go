package main

import "testing"

func TestParseWrk(t *testing.T) {
	out := `Running 1s test @ http://127.0.0.1:18333/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.66ms    3.78ms  28.75ms   93.01%
    Req/Sec   220.58k    32.78k  268.32k    60.00%
  Latency Distribution
     50%    1.47ms
     75%    3.05ms
     90%    5.32ms
     99%   23.13ms
  222176 requests in 1.02s, 27.54MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 1
Requests/sec: 218251.83
Transfer/sec:     27.06MB`
	lr, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := loadResult{requests: 222176, seconds: 1.02, rps: 218251.83, p50us: 1470, p99us: 23130, errors: 6}
	if lr != want {
		t.Fatalf("got %+v\nwant %+v", lr, want)
	}
}

func TestParseRedisCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"PING_INLINE","100000.00","0.3","0.1","0.250","0.5","0.900","2.0"
"GET","50000.00","0.3","0.1","0.350","0.5","0.800","2.0"
`
	lr, err := parseRedisCSV(out, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if lr.requests != 2000 || lr.p50us != 350 || lr.p99us != 900 || int(lr.rps) != 66666 {
		t.Fatalf("got %+v", lr)
	}
}
