package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/examples/internal/listenflags"
)

// config is what the command line sets.
type config struct {
	bind string // address to listen on; "" for every interface
	listenflags.Listen
	// noPlainTCP turns the plain port off: -port 0 with a TLS port, as
	// Redis's port 0 (without TLS, -port 0 picks a free port).
	noPlainTCP bool
	tls        tlsSettings

	aofPath     string // the append-only file, or "" for none
	appendFsync fsyncPolicy
	// idleTimeout closes a client idle for this long, as Redis's timeout;
	// 0 never does.
	idleTimeout time.Duration

	// logf reports what an operator should know (an AOF truncated at
	// start-up, say). Nil discards.
	logf func(format string, args ...interface{})
	// onAOFFailure is called when the append-only file cannot be written
	// with appendfsync always: replies already queued would acknowledge
	// writes that are not on disk, so Redis exits, and so does main. Nil
	// only refuses further writes, as with the other policies.
	onAOFFailure func(error)
	// pubsubSoftTime is how long a subscriber may keep more than
	// pubsubSoftLimit queued before it is cut; 0 is Redis's 60 seconds.
	pubsubSoftTime time.Duration
	// now is the clock keys expire by, in unix milliseconds. Nil is the
	// system's; tests pass one they move, to restart a server later
	// without waiting.
	now func() int64
}

// server is the Redis server: the keyspace, the append-only file and the
// evio events that serve them.
type server struct {
	cfg       config      // immutable
	tlsConfig *tls.Config // from cfg.tls; nil without TLS
	db        *keyspace   // safe for concurrent use
	pubsub    *pubsubRegistry
	aof       *appendLog
	startTime time.Time

	nextClientID atomic.Int64
	stats        serverStats

	// handle is the running server, set by serve before started is
	// closed; ended is closed when serve returns.
	handle  *evio.Handle
	started chan struct{}
	ended   chan struct{}
	endOnce sync.Once

	// Set by Serving, before the loops start, and read-only after.
	numLoops int
	tcpPort  int // the plain port bound, which -port 0 leaves to the system; 0 when off
	tlsPort  int // the TLS port bound; 0 without TLS
}

// serverStats are the counters INFO reports, updated from every loop.
type serverStats struct {
	connected   atomic.Int64
	connections atomic.Int64 // accepted since start or CONFIG RESETSTAT
	commands    atomic.Int64 // executed since start or CONFIG RESETSTAT
	expiredKeys atomic.Int64 // deleted by the active expiry
	panics      atomic.Int64 // connections closed by a panic in this server's code
	pubsubCut   atomic.Int64 // subscribers reset for not reading their messages
	// netInBase and netOutBase are evio's byte counters at the last
	// CONFIG RESETSTAT: INFO reports the bytes since.
	netInBase, netOutBase atomic.Uint64
}

func (s *serverStats) reset(now evio.Counters) {
	s.connections.Store(0)
	s.commands.Store(0)
	s.expiredKeys.Store(0)
	s.netInBase.Store(now.BytesIn)
	s.netOutBase.Store(now.BytesOut)
}

// counters is evio's snapshot of the server's counters, or zeros before
// the handle exists (an event can run before Start returns it).
func (s *server) counters() evio.Counters {
	select {
	case <-s.started:
		return s.handle.Counters()
	default:
		return evio.Counters{}
	}
}

// newServer prepares a server: it replays the append-only file, if any,
// and opens it for appending.
func newServer(cfg config) (*server, error) {
	if cfg.logf == nil {
		cfg.logf = func(string, ...interface{}) {}
	}
	// TLS first: a server that cannot serve it must not touch the
	// append-only file either.
	tlsConfig, err := cfg.tls.serverConfig()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, tlsConfig: tlsConfig, db: newKeyspace(cfg.now), pubsub: newPubsubRegistry(), startTime: time.Now(),
		started: make(chan struct{}), ended: make(chan struct{})}
	if cfg.aofPath != "" {
		aof, err := openAppendLog(s, cfg.aofPath, cfg.appendFsync)
		if err != nil {
			return nil, err
		}
		s.aof = aof
		s.db.logExpired = aof.appendDeletion
		// The replay expired nothing; keys whose time passed while the
		// server was down go now, and are logged as deleted, so that the
		// next replay does not build on them either.
		if n := s.db.deleteExpired(); n > 0 {
			cfg.logf("append-only file %s: deleted %d keys that expired while the server was down", cfg.aofPath, n)
		}
	}
	return s, nil
}

// serve runs the server until it is stopped (stop, SHUTDOWN) or fails.
// listening is called once every address is bound, with the addresses
// actually bound: the plain port first, if any, then the TLS port, then
// the unix socket. The append-only file is flushed and closed once the
// loops have ended, so that every write acknowledged is in it.
func (s *server) serve(listening func(addrs []boundAddr, loops int)) error {
	defer s.endOnce.Do(func() { close(s.ended) })
	addrs, roles := s.cfg.listenAddrs()
	events := evio.Events{
		NumLoops:    s.cfg.Loops,
		LoadBalance: s.cfg.Balance,
		TLSConfig:   s.tlsConfig, // every listener but those marked tls=false
		Serving: func(srv evio.Server) evio.Action {
			listenflags.ReportFallback(os.Stderr, "redis-server", srv)
			s.numLoops = srv.NumLoops
			bound := make([]boundAddr, len(srv.Addrs))
			for i, a := range srv.Addrs {
				bound[i] = boundAddr{Addr: a, TLS: roles[i] == tlsTCP}
				if tcp, ok := a.(*net.TCPAddr); ok {
					switch roles[i] {
					case plainTCP:
						s.tcpPort = tcp.Port
					case tlsTCP:
						s.tlsPort = tcp.Port
					}
				}
			}
			if listening != nil {
				listening(bound, srv.NumLoops)
			}
			return evio.None
		},
		Opened:  s.opened,
		Closed:  s.closed,
		Data:    s.data,
		Drained: s.drained,
		Tick:    s.tick,
	}
	if s.aof != nil {
		events.PreWrite = s.aof.flushBeforeReplies
	}
	h, err := evio.Start(events, addrs...)
	if err == nil {
		s.handle = h
		close(s.started)
		err = h.Wait()
	}
	if s.aof != nil {
		if cerr := s.aof.close(); err == nil {
			err = cerr
		}
	}
	return err
}

// stopTimeout bounds how long a stop waits for clients to take the replies
// queued for them; those still writing after it are reset.
const stopTimeout = 10 * time.Second

// stop shuts a serving server down, as SIGTERM does: it stops accepting
// and reading, delivers the replies already queued (for up to
// stopTimeout), closes every client, and returns once the loops are done;
// serve then closes the append-only file and returns. Safe from any
// goroutine but the loops' (SHUTDOWN uses requestStop); a no-op once serve
// has returned.
func (s *server) stop() error {
	select {
	case <-s.started:
	case <-s.ended:
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return s.handle.Stop(ctx)
}

// requestStop starts a stop without waiting for it: for SHUTDOWN, which
// runs on a loop. Handle.Stop called from a loop starts the stop but
// cannot wait, so it would not reset clients that never read after
// stopTimeout; a goroutine can.
func (s *server) requestStop() {
	go func() {
		if err := s.stop(); err != nil {
			s.cfg.logf("stopping: %v", err)
		}
	}()
}

func (s *server) opened(conn evio.Conn) ([]byte, evio.Options, evio.Action) {
	c := &client{srv: s, conn: conn, id: s.nextClientID.Add(1)}
	if addr := conn.RemoteAddr(); addr != nil {
		c.addr = addr.String()
	}
	conn.SetContext(c)
	s.stats.connected.Add(1)
	s.stats.connections.Add(1)
	opts := evio.Options{
		ReuseInputBuffer: true,
		TCPKeepAlive:     300 * time.Second, // Redis's default tcp-keepalive
		OutputHighWater:  replyHighWater,
		OutputLowWater:   replyLowWater,
		IdleTimeout:      s.cfg.idleTimeout, // Redis's timeout; 0 keeps idle clients
		// Cuts subscribers that do not read (see pubsub.go); other
		// clients stop being read at OutputHighWater long before.
		MaxOutput: pubsubHardLimit,
	}
	return nil, opts, evio.None
}

func (s *server) closed(conn evio.Conn, err error) evio.Action {
	s.stats.connected.Add(-1)
	if c, ok := conn.Context().(*client); ok {
		c.unsubscribeAll()
	}
	var panicked *evio.PanicError
	if errors.As(err, &panicked) {
		// A bug of this server, not of the client: evio recovered it and
		// closed only this connection. Say so loudly.
		s.stats.panics.Add(1)
		s.cfg.logf("BUG: connection %v closed by a panic: %v\n%s", conn.RemoteAddr(), panicked.Value, panicked.Stack)
	}
	return evio.None
}

func (s *server) data(conn evio.Conn, in []byte) ([]byte, evio.Action) {
	c, ok := conn.Context().(*client)
	if !ok || in == nil {
		// in is nil after a Wake, which this server never calls.
		return nil, evio.None
	}
	return c.handleData(in)
}

// drained carries on with a client's replies and requests once its queue
// has fallen below the low mark (see backpressure.go).
func (s *server) drained(conn evio.Conn) ([]byte, evio.Action) {
	c, ok := conn.Context().(*client)
	if !ok {
		return nil, evio.None
	}
	return c.resume()
}

// tickInterval is how often Tick runs: Redis's default hz of 10.
const tickInterval = 100 * time.Millisecond

// tick deletes expired keys nobody reads, and has the append-only file
// synced once a second under "everysec".
func (s *server) tick() (time.Duration, evio.Action) {
	s.stats.expiredKeys.Add(int64(s.db.activeExpireCycle()))
	if s.aof != nil {
		s.aof.tick()
	}
	return tickInterval, evio.None
}

// aofError is the error that stopped the append-only file, or nil.
func (s *server) aofError() error {
	if s.aof == nil {
		return nil
	}
	return s.aof.failure()
}

// infoSection is one "# Name" block of INFO.
type infoSection struct {
	name   string
	fields [][2]string
}

func (s *server) infoSections() []infoSection {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	utoa := func(n uint64) string { return strconv.FormatUint(n, 10) }
	counts := s.counters()
	uptime := time.Since(s.startTime)
	keys, volatile := s.db.size()
	aofEnabled, aofStatus := "0", "ok"
	if s.aof != nil {
		aofEnabled = "1"
		if s.aof.failure() != nil {
			aofStatus = "err"
		}
	}
	port := strconv.Itoa(s.tcpPort)
	channels, patterns := s.pubsub.counts()
	sections := []infoSection{
		{"Server", [][2]string{
			{"redis_version", redisVersion},
			{"redis_mode", "standalone"},
			{"os", runtime.GOOS + " " + runtime.GOARCH},
			{"arch_bits", strconv.Itoa(32 << (^uint(0) >> 63))},
			{"multiplexing_api", "evio"},
			{"process_id", strconv.Itoa(os.Getpid())},
			{"tcp_port", port},
			{"uptime_in_seconds", itoa(int64(uptime / time.Second))},
			{"uptime_in_days", itoa(int64(uptime / (24 * time.Hour)))},
			{"hz", "10"},
			{"io_threads_active", "0"},
			{"event_loops", strconv.Itoa(s.numLoops)},
		}},
		{"Clients", [][2]string{
			{"connected_clients", itoa(s.stats.connected.Load())},
			{"blocked_clients", "0"},
		}},
		{"Persistence", [][2]string{
			{"loading", "0"},
			{"rdb_bgsave_in_progress", "0"},
			{"aof_enabled", aofEnabled},
			{"aof_rewrite_in_progress", "0"},
			{"aof_last_write_status", aofStatus},
		}},
		{"Stats", [][2]string{
			{"total_connections_received", itoa(s.stats.connections.Load())},
			{"total_commands_processed", itoa(s.stats.commands.Load())},
			{"total_net_input_bytes", utoa(counts.BytesIn - s.stats.netInBase.Load())},
			{"total_net_output_bytes", utoa(counts.BytesOut - s.stats.netOutBase.Load())},
			{"rejected_connections", "0"},
			{"expired_keys", itoa(s.stats.expiredKeys.Load())},
			{"pubsub_channels", itoa(int64(channels))},
			{"pubsub_patterns", itoa(int64(patterns))},
		}},
		{"Replication", [][2]string{
			{"role", "master"},
			{"connected_slaves", "0"},
		}},
		{"Keyspace", nil},
	}
	if keys > 0 {
		last := &sections[len(sections)-1]
		last.fields = append(last.fields, [2]string{"db0", "keys=" + strconv.Itoa(keys) + ",expires=" + strconv.Itoa(volatile) + ",avg_ttl=0"})
	}
	return sections
}

// configParams are the parameters CONFIG GET reports: those clients and
// tools ask about (redis-benchmark asks for save and appendonly), with
// values that describe this server.
func (s *server) configParams() []configParam {
	appendOnly := "no"
	if s.aof != nil {
		appendOnly = "yes"
	}
	return []configParam{
		{"appendfsync", s.cfg.appendFsync.String()},
		{"appendonly", appendOnly},
		{"bind", s.cfg.bind},
		{"client-query-buffer-limit", strconv.Itoa(maxQueryBuffer)},
		{"databases", "1"},
		{"hz", "10"},
		{"maxclients", "10000"},
		{"maxmemory", "0"},
		{"maxmemory-policy", "noeviction"},
		{"port", strconv.Itoa(s.tcpPort)},
		{"proto-max-bulk-len", strconv.Itoa(maxBulkLength)},
		{"save", ""},
		{"tcp-keepalive", "300"},
		{"timeout", strconv.Itoa(int(s.cfg.idleTimeout / time.Second))},
		{"tls-auth-clients", s.cfg.tls.authClientsName()},
		{"tls-ca-cert-file", s.cfg.tls.caCertFile},
		{"tls-cert-file", s.cfg.tls.certFile},
		{"tls-key-file", s.cfg.tls.keyFile},
		{"tls-port", strconv.Itoa(s.tlsPort)},
		{"unixsocket", s.cfg.UnixSocket},
	}
}
