package evio

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"math/rand"
	"testing"
	"time"
)

func TestTLSEcho(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := echoEvents()
		events.TLSConfig = serverTLS(t)
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		tc := s.dialTLS(0, clientTLS(t))
		for i := 0; i < 3; i++ {
			msg := []byte("hello over tls\n")
			if _, err := tc.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			tc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(tc, got); err != nil {
				t.Fatalf("read echo: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echo = %q, want %q", got, msg)
			}
		}
	})
}

func TestTLSBulkHashed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			events := echoEvents()
			events.TLSConfig = serverTLS(t)
			s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
			cfg := clientTLS(t)
			cfg.MaxVersion = v
			tc := s.dialTLS(0, cfg)
			const total = 10 << 20
			sent := sha256.New()
			done := make(chan error, 1)
			go func() {
				rng := rand.New(rand.NewSource(1))
				n := 0
				for n < total {
					k := 1 + rng.Intn(40000)
					if n+k > total {
						k = total - n
					}
					b := make([]byte, k)
					rng.Read(b)
					sent.Write(b)
					if _, err := tc.Write(b); err != nil {
						done <- err
						return
					}
					n += k
				}
				done <- nil
			}()
			got := sha256.New()
			tc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.CopyN(got, tc, total); err != nil {
				t.Fatalf("version %x: read echo: %v", v, err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
				t.Fatalf("version %x: echo hash differs", v)
			}
			tc.Close()
		}
	})
}
