package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// fsyncPolicy is Redis's appendfsync: when the append-only file is synced
// to disk.
type fsyncPolicy int

const (
	// fsyncEverySec writes the log before replies leave and syncs it once
	// a second in the background: a crash of the machine (not of the
	// process) loses at most about a second of writes. Redis's default.
	fsyncEverySec fsyncPolicy = iota
	// fsyncAlways writes and syncs the log before replies leave: a write
	// that was acknowledged survives even a power loss.
	fsyncAlways
	// fsyncNo writes the log before replies leave and leaves syncing to
	// the operating system.
	fsyncNo
)

func parseFsyncPolicy(s string) (fsyncPolicy, error) {
	switch s {
	case "always":
		return fsyncAlways, nil
	case "everysec":
		return fsyncEverySec, nil
	case "no":
		return fsyncNo, nil
	}
	return 0, fmt.Errorf("unknown appendfsync %q: want always, everysec or no", s)
}

func (p fsyncPolicy) String() string {
	switch p {
	case fsyncAlways:
		return "always"
	case fsyncNo:
		return "no"
	}
	return "everysec"
}

// appendLog is the append-only file: every write command, and every
// deletion of an expired key (as DEL), as multibulk requests in the order
// the keyspace applied them, expiries as absolute times (see keyspace).
//
// Commands append to pending while they hold their keys' locks (append).
// Before a loop writes a batch of replies, evio's PreWrite hands pending to
// the file (flushBeforeReplies), and under "always" syncs it, so no reply
// acknowledges a write the file does not hold. Several loops run PreWrite
// at once: writeMu makes them take turns, and a loop whose commands were
// taken and written by another loop's PreWrite waits on writeMu until that
// write (and sync) is done.
type appendLog struct {
	policy    fsyncPolicy // immutable
	onFailure func(error) // immutable; see config.onAOFFailure
	logf      func(format string, args ...interface{})

	mu      sync.Mutex
	pending []byte // commands not yet written; guarded by mu
	spare   []byte // the previous pending, kept for reuse; guarded by mu
	err     error  // the first write or sync error; guarded by mu

	writeMu  sync.Mutex
	file     *os.File // written under writeMu; synced in the background too
	size     int64    // bytes of whole commands in file; guarded by writeMu
	unsynced bool     // written since the last sync; guarded by writeMu

	lastSync   time.Time   // Tick's goroutine only
	syncing    atomic.Bool // a background sync is running
	background sync.WaitGroup
}

// maxKeptLogBuffer bounds the pending buffer kept for reuse.
const maxKeptLogBuffer = 1 << 20

// openAppendLog opens the append-only file at path, creating it if need
// be, and replays it into s's keyspace. A file whose last command was torn
// by a crash in the middle of a write is cut after its last whole command,
// as Redis does with aof-load-truncated; any other damage is an error that
// names its offset, and the file is left as it is (see aofload.go).
func openAppendLog(s *server, path string, policy fsyncPolicy) (*appendLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the append-only file: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the append-only file: %w", err)
	}
	good, err := s.replay(data)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("loading the append-only file %s (left as it is): %w", path, err)
	}
	if good < len(data) {
		s.cfg.logf("append-only file %s ends in a command torn at byte offset %d: cutting its %d bytes off", path, good, len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncating the append-only file: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seeking in the append-only file: %w", err)
	}
	return &appendLog{
		policy:    policy,
		onFailure: s.cfg.onAOFFailure,
		logf:      s.cfg.logf,
		file:      f,
		size:      int64(good),
		lastSync:  time.Now(),
	}, nil
}

// append adds a command to the log. The caller holds the locks of the keys
// the command wrote.
func (a *appendLog) append(args ...[]byte) {
	a.mu.Lock()
	a.pending = appendCommand(a.pending, args...)
	a.mu.Unlock()
}

// appendElems adds "word key elems[0] elems[step] ..." to the log (see
// client.propagateElems). The caller holds the lock of key's shard.
func (a *appendLog) appendElems(word, key []byte, elems [][]byte, step int) {
	a.mu.Lock()
	a.pending = appendArrayLen(a.pending, 2+(len(elems)+step-1)/step)
	a.pending = appendBulk(a.pending, word)
	a.pending = appendBulk(a.pending, key)
	for i := 0; i < len(elems); i += step {
		a.pending = appendBulk(a.pending, elems[i])
	}
	a.mu.Unlock()
}

// appendDeletion adds "DEL key" to the log: the keyspace's logExpired.
// The caller holds the lock of key's shard.
func (a *appendLog) appendDeletion(key string) {
	a.mu.Lock()
	a.pending = appendArrayLen(a.pending, 2)
	a.pending = appendBulk(a.pending, wordDEL)
	a.pending = appendBulkString(a.pending, key)
	a.mu.Unlock()
}

// failure is the error that stopped the log, or nil.
func (a *appendLog) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// flushBeforeReplies is evio's PreWrite: it writes the pending commands
// and, under "always", syncs them, before the calling loop's replies
// leave.
func (a *appendLog) flushBeforeReplies() {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.writePending()
	if a.policy == fsyncAlways && a.unsynced {
		a.sync()
	}
}

// writePending writes what commands have appended. The caller holds
// writeMu.
func (a *appendLog) writePending() {
	a.mu.Lock()
	buf, failed := a.pending, a.err != nil
	a.pending, a.spare = a.spare[:0], nil
	a.mu.Unlock()
	if len(buf) > 0 && !failed {
		if _, err := a.file.Write(buf); err != nil {
			// Cut a partial write off, so that the file still ends with
			// a whole command.
			a.file.Truncate(a.size)
			a.file.Seek(a.size, io.SeekStart)
			a.fail(fmt.Errorf("write: %w", err))
		} else {
			a.size += int64(len(buf))
			a.unsynced = true
		}
	}
	a.mu.Lock()
	if a.spare == nil && cap(buf) <= maxKeptLogBuffer {
		a.spare = buf[:0]
	}
	a.mu.Unlock()
}

// sync syncs the file. The caller holds writeMu.
func (a *appendLog) sync() {
	a.unsynced = false
	if err := syncData(a.file); err != nil {
		a.fail(fmt.Errorf("fsync: %w", err))
	}
}

// fail records the first error; the server then refuses writes with
// MISCONF. Under "always" it also calls onFailure.
func (a *appendLog) fail(err error) {
	a.mu.Lock()
	first := a.err == nil
	if first {
		a.err = err
	}
	a.mu.Unlock()
	if !first {
		return
	}
	a.logf("append-only file failed, refusing writes: %v", err)
	if a.policy == fsyncAlways && a.onFailure != nil {
		a.onFailure(err)
	}
}

// tick runs on Tick's goroutine: under "everysec", once a second, it
// starts a background sync if the file was written since the last one. The
// sync runs outside writeMu, so replies do not wait for the disk.
func (a *appendLog) tick() {
	if a.policy != fsyncEverySec || time.Since(a.lastSync) < time.Second || a.syncing.Load() {
		return
	}
	a.writeMu.Lock()
	unsynced := a.unsynced
	a.unsynced = false
	a.writeMu.Unlock()
	if !unsynced {
		return
	}
	a.lastSync = time.Now()
	a.syncing.Store(true)
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		defer a.syncing.Store(false)
		if err := syncData(a.file); err != nil {
			a.fail(fmt.Errorf("fsync: %w", err))
		}
	}()
}

// close writes and syncs whatever is pending, whatever the policy, and
// closes the file. The loops have stopped.
func (a *appendLog) close() error {
	a.background.Wait()
	a.writeMu.Lock()
	a.writePending()
	a.sync()
	a.writeMu.Unlock()
	err := a.file.Close()
	if ferr := a.failure(); ferr != nil {
		return fmt.Errorf("append-only file: %w", ferr)
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("closing the append-only file: %w", err)
	}
	return nil
}
