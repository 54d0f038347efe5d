package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

// result is one server's row: every figure the run measured of it.
type result struct {
	Server string   `json:"server"`
	What   string   `json:"what"`
	Argv   []string `json:"argv"`
	Target int      `json:"target"`
	Error  string   `json:"error,omitempty"`

	Open openResult `json:"open"`
	// ClientRate is established connections per second of OpenSeconds;
	// AcceptRate is the same connections per second of AcceptSeconds,
	// when the server had accepted them all.
	ClientRate float64 `json:"client_conns_per_s"`
	AcceptRate float64 `json:"accept_conns_per_s"`

	// The server's sockets (readlink of /proc/PID/fd) before and after.
	SocketsBefore int `json:"server_sockets_before"`
	SocketsAfter  int `json:"server_sockets_after"`
	Held          int `json:"held"` // SocketsAfter − SocketsBefore

	RSSBeforeKB      int64        `json:"rss_before_kb"`
	RSSAfterKB       int64        `json:"rss_after_kb"`
	RSSPerConn       float64      `json:"rss_bytes_per_conn"`
	HeapBefore       *heapFigures `json:"heap_before,omitempty"`
	HeapAfter        *heapFigures `json:"heap_after,omitempty"`
	HeapPerConn      float64      `json:"live_heap_bytes_per_conn,omitempty"`
	RSSAfterSampleKB int64        `json:"rss_after_sample_kb"`
	ClientRSSKB      int64        `json:"client_rss_kb"`

	KernelBefore kernelSnap `json:"kernel_before"`
	KernelAfter  kernelSnap `json:"kernel_after"`

	Sample       sampleResult `json:"sample"`
	HeldSeconds  float64      `json:"held_s"`
	CloseSeconds float64      `json:"close_s"`
	// ReleaseSeconds is how long after the close the kernel's TCP socket
	// count took to come back within 1,000 of where it was before.
	ReleaseSeconds float64 `json:"release_s"`
}

// sockMemBytes is the growth of the pages charged to TCP socket buffers.
func (r *result) sockMemBytes() int64 {
	return (r.KernelAfter.Sockstat.MemPages - r.KernelBefore.Sockstat.MemPages) * int64(os.Getpagesize())
}

func (r *result) slabGrowthKB() int64 {
	return r.KernelAfter.Meminfo.SlabKB - r.KernelBefore.Meminfo.SlabKB
}

// measure runs one server: start it, open the connections, read the
// figures, hold, check a sample, close everything, stop it.
func (c config) measure(rw row, stop *atomic.Bool) (res result) {
	res = result{Server: rw.name, What: rw.what, Target: c.n}
	fail := func(err error) result {
		res.Error = err.Error()
		log.Printf("%s: %v", rw.name, err)
		return res
	}
	tmp, err := os.MkdirTemp("", "manyconns-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	port, err := proc.FreePort()
	if err != nil {
		return fail(err)
	}
	heapPath := filepath.Join(tmp, "heap.json")
	res.Argv = rw.argv(c.bin, port, heapPath)
	cmd, err := startServer(res.Argv, c.serverCPU, filepath.Join(tmp, "server.log"))
	if err != nil {
		return fail(err)
	}
	pid := cmd.Process.Pid
	var cl *client
	defer func() {
		if cl != nil {
			t := time.Now()
			cl.closeAll()
			res.CloseSeconds = time.Since(t).Seconds()
		}
		stopServer(cmd, time.Minute)
		if b, err := os.ReadFile(filepath.Join(tmp, "server.log")); err == nil && len(b) > 0 {
			log.Printf("%s: server output:\n%s", rw.name, lastLines(string(b), 10))
		}
		if res.KernelBefore.Sockstat.InUse > 0 {
			res.ReleaseSeconds = waitReleased(res.KernelBefore.Sockstat.InUse, 2*time.Minute)
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitListening(addr, pid); err != nil {
		return fail(err)
	}
	time.Sleep(500 * time.Millisecond) // the probe connection closes
	log.Printf("%s: listening on %s (pid %d); opening %d connections", rw.name, addr, pid, c.n)

	if res.KernelBefore, err = readKernel(); err != nil {
		return fail(err)
	}
	rss, err := proc.RSS(pid)
	if err != nil {
		return fail(err)
	}
	res.RSSBeforeKB = rss >> 10
	if res.SocketsBefore, err = socketFDs(pid); err != nil {
		return fail(err)
	}
	var heapSeq int64
	if rw.heapHook {
		h, err := readHeap(pid, heapPath, heapSeq)
		if err != nil {
			return fail(err)
		}
		heapSeq, res.HeapBefore = h.Seq, &h
	}
	fdsStart, err := countFDs(pid, make([]byte, 1<<16))
	if err != nil {
		return fail(err)
	}

	diag, err := newDiag()
	if err != nil {
		return fail(fmt.Errorf("sock_diag: %w", err))
	}
	defer diag.close()
	if cl, err = newClient(port, c.srcBase, c.perSrc, c.n); err != nil {
		return fail(err)
	}
	res.Open = cl.open(openCfg{
		n: c.n, inflight: c.inflight, maxQueue: uint32(c.maxQueue),
		deadline: time.Now().Add(c.deadline), minAvail: c.minAvailMB << 20,
		port: port, pid: pid, fdsStart: fdsStart, stop: stop,
	}, diag)
	o := &res.Open
	if o.OpenSeconds > 0 {
		res.ClientRate = float64(o.Established) / o.OpenSeconds
	}
	if o.Stopped == "" && o.AcceptSeconds > 0 {
		res.AcceptRate = float64(o.Established) / o.AcceptSeconds
	}
	log.Printf("%s: %d established in %.1fs (%.0f/s), accepted by %.1fs; stopped: %q",
		rw.name, o.Established, o.OpenSeconds, res.ClientRate, o.AcceptSeconds, o.Stopped)
	if !proc.Alive(pid) {
		return fail(fmt.Errorf("the server exited with %d connections established", o.Established))
	}
	heldFrom := time.Now()

	time.Sleep(c.settle)
	if rss, err = proc.RSS(pid); err != nil {
		return fail(err)
	}
	res.RSSAfterKB = rss >> 10
	if res.KernelAfter, err = readKernel(); err != nil {
		return fail(err)
	}
	if rss, err = proc.RSS(os.Getpid()); err == nil {
		res.ClientRSSKB = rss >> 10
	}
	if res.SocketsAfter, err = socketFDs(pid); err != nil {
		return fail(err)
	}
	res.Held = res.SocketsAfter - res.SocketsBefore
	if res.Held > 0 {
		res.RSSPerConn = float64(res.RSSAfterKB-res.RSSBeforeKB) * 1024 / float64(res.Held)
	}
	if rw.heapHook {
		h, err := readHeap(pid, heapPath, heapSeq)
		if err != nil {
			return fail(err)
		}
		res.HeapAfter = &h
		if res.Held > 0 {
			res.HeapPerConn = (float64(h.HeapAlloc) - float64(res.HeapBefore.HeapAlloc)) / float64(res.Held)
		}
	}
	log.Printf("%s: server holds %d sockets; VmRSS %d -> %d kB (%.0f B/conn); slab +%d MiB; TCP mem +%d pages",
		rw.name, res.Held, res.RSSBeforeKB, res.RSSAfterKB, res.RSSPerConn, res.slabGrowthKB()>>10,
		res.KernelAfter.Sockstat.MemPages-res.KernelBefore.Sockstat.MemPages)

	// Hold them, watching the server, for the rest of -hold.
	for time.Since(heldFrom) < c.hold && !stop.Load() {
		if !proc.Alive(pid) {
			return fail(fmt.Errorf("the server exited while holding %d connections", o.Established))
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.HeldSeconds = time.Since(heldFrom).Seconds()
	if stop.Load() {
		return fail(fmt.Errorf("interrupted"))
	}
	res.Sample = cl.check(c.sample, 5*time.Second)
	log.Printf("%s: sample of %d: %d answered, %d failed %v (p50 %.2f ms, max %.2f ms)",
		rw.name, res.Sample.Size, res.Sample.Answered, res.Sample.Failed, res.Sample.Errors, res.Sample.P50ms, res.Sample.Maxms)
	if rss, err = proc.RSS(pid); err == nil {
		res.RSSAfterSampleKB = rss >> 10
	}
	return res
}

// waitReleased waits until the machine's TCP sockets in use are back
// within 1,000 of before, and returns how long that took.
func waitReleased(before int64, bound time.Duration) float64 {
	start := time.Now()
	for time.Since(start) < bound {
		if k, err := readKernel(); err == nil && k.Sockstat.InUse <= before+1000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start).Seconds()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
