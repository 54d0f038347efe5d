package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tlsMode is a client configuration: the server's is the crypto/tls
// default, so the client alone decides version and key exchange.
type tlsMode struct {
	name string
	desc string
	conf func() *tls.Config
}

// baseClient is every mode's client: no session cache and tickets off, so
// each connection is a full handshake; no certificate verification, which
// would only add to the client's CPU, not the server's.
func baseClient() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, SessionTicketsDisabled: true}
}

var modes = []tlsMode{
	{"tls13", "TLS 1.3, Go's default key exchange (client offers X25519MLKEM768 first)", func() *tls.Config {
		c := baseClient()
		c.MinVersion = tls.VersionTLS13
		return c
	}},
	{"tls13-x25519", "TLS 1.3, client CurvePreferences X25519 only", func() *tls.Config {
		c := baseClient()
		c.MinVersion = tls.VersionTLS13
		c.CurvePreferences = []tls.CurveID{tls.X25519}
		return c
	}},
	{"tls12", "TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256", func() *tls.Config {
		c := baseClient()
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		return c
	}},
}

// describe says what a handshake negotiated, for the results file.
func describe(cs tls.ConnectionState) string {
	return fmt.Sprintf("%s %s %s resumed=%v", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID, cs.DidResume)
}

// openIdle opens n TLS connections to addr, each with a handshake and one
// small exchange (a 4-byte echo, or one HTTP request when http is set),
// with conc of them in flight, and returns them open. It gives up at
// deadline.
func openIdle(addr string, conf *tls.Config, n, conc int, httpReq bool, deadline time.Time) ([]net.Conn, string, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var negotiated string
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Now().After(deadline) {
					return
				}
				c, err := openOne(addr, conf, httpReq, deadline)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					return
				}
				if i == 0 {
					negotiated = describe(c.ConnectionState())
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	if firstErr == nil && len(open) < n {
		firstErr = fmt.Errorf("only %d of %d connections before the deadline", len(open), n)
	}
	return open, negotiated, firstErr
}

var httpRequest = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

func openOne(addr string, conf *tls.Config, httpReq bool, deadline time.Time) (*tls.Conn, error) {
	d := net.Dialer{Deadline: deadline}
	c, err := tls.DialWithDialer(&d, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline)
	if httpReq {
		if _, err := c.Write(httpRequest); err != nil {
			c.Close()
			return nil, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(body), "Hello") {
			c.Close()
			return nil, fmt.Errorf("bad response %d %q %v", resp.StatusCode, body, err)
		}
	} else {
		msg := []byte("ping")
		if _, err := c.Write(msg); err != nil {
			c.Close()
			return nil, err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			c.Close()
			return nil, fmt.Errorf("echo %q: %v", got, err)
		}
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// handshakeLoop runs workers that dial, handshake and close until stop,
// and counts the handshakes done and the errors.
type hsResult struct {
	ok, failed int64
	resumed    int64
	firstErr   error
	negotiated string
}

func handshakeLoop(addr string, conf *tls.Config, workers int, dur time.Duration) hsResult {
	var ok, failed, resumed atomic.Int64
	var mu sync.Mutex
	var r hsResult
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				d := net.Dialer{Deadline: stop.Add(2 * time.Second)}
				c, err := tls.DialWithDialer(&d, "tcp", addr, conf)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if r.firstErr == nil {
						r.firstErr = err
					}
					mu.Unlock()
					// A failing server must not turn the loop into a spin.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				cs := c.ConnectionState()
				if cs.DidResume {
					resumed.Add(1)
				}
				mu.Lock()
				if r.negotiated == "" {
					r.negotiated = describe(cs)
				}
				mu.Unlock()
				c.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	r.ok, r.failed, r.resumed = ok.Load(), failed.Load(), resumed.Load()
	return r
}

// checkHTTPS makes one request to url and checks the body, before a
// server is timed.
func checkHTTPS(url string) error {
	tr := &http.Transport{TLSClientConfig: baseClient(), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != "Hello, World!" {
		return fmt.Errorf("%s: status %d body %q", url, resp.StatusCode, body)
	}
	return nil
}
