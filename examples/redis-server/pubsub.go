package main

import (
	"sort"
	"sync"
	"time"

	"github.com/evio-go/evio"
)

// Publish/subscribe. A subscriber and a publisher may be on different
// loops, so the registry of subscriptions is shared and locked: PUBLISH
// reads it and hands each message to its subscribers with Conn.Write,
// which copies it and wakes the subscriber's loop (or, on the same loop,
// queues it before that loop writes). The subscriptions of a client are
// also kept in the client, touched only by its own loop, so that its
// replies (counts, UNSUBSCRIBE with no argument) need no lock.
//
// A subscriber that does not read what is published to it would make the
// server hold the messages without bound. Like Redis's default
// "client-output-buffer-limit pubsub 32mb 8mb 60", a subscriber whose
// queue would pass pubsubHardLimit is cut with a reset, and one whose
// queue stays above pubsubSoftLimit for pubsubSoftSeconds is cut too.

const (
	// pubsubHardLimit is every connection's evio MaxOutput: a Write
	// that would take the queue past it fails, and the subscriber is
	// cut. It never cuts a client that is not subscribed: those stop
	// being read at replyHighWater, and an event's own output is never
	// cut.
	pubsubHardLimit = 32 << 20
	pubsubSoftLimit = 8 << 20
	pubsubSoftTime  = 60 * time.Second
)

// pubsubSoftTime is how long a subscriber's queue may stay above the soft
// limit: pubsubSoftTime unless the configuration (a test) sets another.
func (s *server) pubsubSoftTime() time.Duration {
	if s.cfg.pubsubSoftTime > 0 {
		return s.cfg.pubsubSoftTime
	}
	return pubsubSoftTime
}

// pubsubRegistry maps channels and patterns to their subscribers.
type pubsubRegistry struct {
	mu       sync.RWMutex
	channels map[string]map[*client]struct{}
	patterns map[string]map[*client]struct{}
}

func newPubsubRegistry() *pubsubRegistry {
	return &pubsubRegistry{
		channels: make(map[string]map[*client]struct{}),
		patterns: make(map[string]map[*client]struct{}),
	}
}

// subscription is the pub/sub state of one client, owned by its loop.
// Publishers on other loops use only the client's conn and psCut.
type subscription struct {
	channels map[string]struct{}
	patterns map[string]struct{}
	// softSince is when the queue was first seen above pubsubSoftLimit,
	// or zero.
	softSince time.Time
}

// subscriptions is the number of channels and patterns c is subscribed to,
// what (un)subscribe replies report.
func (c *client) subscriptions() int {
	if c.sub == nil {
		return 0
	}
	return len(c.sub.channels) + len(c.sub.patterns)
}

// subscribed reports whether c is in the subscribed state, where RESP2
// allows only a few commands.
func (c *client) subscribed() bool { return c.subscriptions() > 0 }

// allowedWhenSubscribed lists the commands a subscribed client may run.
var allowedWhenSubscribed = map[string]bool{
	"subscribe": true, "unsubscribe": true, "psubscribe": true, "punsubscribe": true,
	"ping": true, "quit": true, "reset": true,
}

// appendPubsubReply appends a three-element confirmation: kind, name (nil
// for a null bulk string) and the count of subscriptions.
func appendPubsubReply(out []byte, kind string, name []byte, count int) []byte {
	out = append(out, "*3\r\n"...)
	out = appendBulkString(out, kind)
	if name == nil {
		out = appendNullBulk(out)
	} else {
		out = appendBulk(out, name)
	}
	return appendInt(out, int64(count))
}

// flushOut hands the replies gathered so far to the connection with
// Write, so that a subscription confirmation written next with Write, and
// the messages published after it, come after them.
func (c *client) flushOut() {
	if len(c.out) > 0 && c.conn != nil {
		if err := c.conn.Write(c.out); err != nil {
			// Past the hard limit already (a large reply pipelined
			// before SUBSCRIBE): cut as a subscriber would be.
			c.conn.Abort()
		}
		c.out = c.out[:0]
	}
}

func cmdSubscribe(c *client, args [][]byte)  { c.subscribe(args[1:], false) }
func cmdPSubscribe(c *client, args [][]byte) { c.subscribe(args[1:], true) }

// subscribe adds channels (or patterns). Each confirmation is written
// under the registry's lock, after the replies before it: a message
// published once the subscription is registered then reaches the client
// after the confirmation, as clients expect.
func (c *client) subscribe(names [][]byte, pattern bool) {
	if c.conn == nil {
		return
	}
	if c.sub == nil {
		c.sub = &subscription{channels: make(map[string]struct{}), patterns: make(map[string]struct{})}
	}
	kind, mine := "subscribe", c.sub.channels
	reg := c.srv.pubsub
	all := reg.channels
	if pattern {
		kind, mine, all = "psubscribe", c.sub.patterns, reg.patterns
	}
	c.flushOut()
	c.watchSoftLimit()
	var reply []byte
	for _, name := range names {
		reg.mu.Lock()
		if _, ok := mine[string(name)]; !ok {
			key := string(name)
			mine[key] = struct{}{}
			subs := all[key]
			if subs == nil {
				subs = make(map[*client]struct{})
				all[key] = subs
			}
			subs[c] = struct{}{}
		}
		reply = appendPubsubReply(reply[:0], kind, name, c.subscriptions())
		if err := c.conn.Write(reply); err != nil {
			c.conn.Abort()
		}
		reg.mu.Unlock()
	}
}

func cmdUnsubscribe(c *client, args [][]byte)  { c.unsubscribe(args[1:], false) }
func cmdPUnsubscribe(c *client, args [][]byte) { c.unsubscribe(args[1:], true) }

// unsubscribe removes channels (or patterns); with none named, every one
// the client has, in an unspecified order, as Redis. Its confirmations go
// with the event's output: messages published before the removal were
// written before it, and none is published to the client after.
func (c *client) unsubscribe(names [][]byte, pattern bool) {
	kind := "unsubscribe"
	if pattern {
		kind = "punsubscribe"
	}
	var mine map[string]struct{}
	if c.sub != nil {
		mine = c.sub.channels
		if pattern {
			mine = c.sub.patterns
		}
	}
	if len(names) == 0 {
		if len(mine) == 0 {
			c.out = appendPubsubReply(c.out, kind, nil, c.subscriptions())
			return
		}
		names = make([][]byte, 0, len(mine))
		for name := range mine {
			names = append(names, []byte(name))
		}
	}
	for _, name := range names {
		if _, ok := mine[string(name)]; ok {
			c.srv.pubsub.remove(c, string(name), pattern)
			delete(mine, string(name))
		}
		c.out = appendPubsubReply(c.out, kind, name, c.subscriptions())
	}
}

// remove takes c off the subscribers of a channel (or pattern).
func (r *pubsubRegistry) remove(c *client, name string, pattern bool) {
	all := r.channels
	if pattern {
		all = r.patterns
	}
	r.mu.Lock()
	if subs := all[name]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(all, name)
		}
	}
	r.mu.Unlock()
}

// unsubscribeAll drops every subscription of c without a reply: when the
// connection closes, and for RESET.
func (c *client) unsubscribeAll() {
	if c.sub == nil {
		return
	}
	for name := range c.sub.channels {
		c.srv.pubsub.remove(c, name, false)
	}
	for name := range c.sub.patterns {
		c.srv.pubsub.remove(c, name, true)
	}
	c.sub = nil
}

// cmdPublish delivers a message to the subscribers of the channel and of
// the patterns it matches, and replies with how many received it. It runs
// on the publisher's loop; Write copies the message for each subscriber.
func cmdPublish(c *client, args [][]byte) {
	channel, payload := args[1], args[2]
	reg := c.srv.pubsub
	receivers := 0
	msg := c.pubScratch[:0]
	reg.mu.RLock()
	if subs := reg.channels[string(channel)]; len(subs) > 0 {
		msg = append(msg, "*3\r\n$7\r\nmessage\r\n"...)
		msg = appendBulk(msg, channel)
		msg = appendBulk(msg, payload)
		for sub := range subs {
			if sub.deliver(msg) {
				receivers++
			}
		}
	}
	for pattern, subs := range reg.patterns {
		if !globMatch(pattern, string(channel), false) {
			continue
		}
		msg = append(msg[:0], "*4\r\n$8\r\npmessage\r\n"...)
		msg = appendBulkString(msg, pattern)
		msg = appendBulk(msg, channel)
		msg = appendBulk(msg, payload)
		for sub := range subs {
			if sub.deliver(msg) {
				receivers++
			}
		}
	}
	reg.mu.RUnlock()
	if cap(msg) <= maxKeptBuffer {
		c.pubScratch = msg[:0]
	} else {
		c.pubScratch = nil
	}
	c.replyInt(int64(receivers))
}

// deliver writes a message to subscriber c, from any loop, and reports
// whether it was queued. A subscriber whose queue would pass the hard
// limit is reset: its Closed event then drops its subscriptions.
func (c *client) deliver(msg []byte) bool {
	if c.psCut.Load() {
		return false
	}
	err := c.conn.Write(msg)
	if err == evio.ErrOutputLimit && !c.psCut.Swap(true) {
		c.conn.Abort()
		c.srv.stats.pubsubCut.Add(1)
	}
	return err == nil
}

// pubsubCheckInterval is how often a subscriber's loop compares its queue
// with the soft limit.
const pubsubCheckInterval = time.Second

// watchSoftLimit checks, on the subscriber's loop, once a second while it
// is subscribed, whether its queue has stayed above pubsubSoftLimit for
// the soft limit's time, and resets the connection if so. (The queue can
// only be read on the connection's loop, not by the publishers.)
func (c *client) watchSoftLimit() {
	if c.conn == nil || c.watching {
		return
	}
	c.watching = true
	var check func() ([]byte, evio.Action)
	check = func() ([]byte, evio.Action) {
		s := c.sub
		if s == nil {
			c.watching = false
			return nil, evio.None
		}
		if c.conn.QueuedOutput() < pubsubSoftLimit {
			s.softSince = time.Time{}
		} else if now := time.Now(); s.softSince.IsZero() {
			s.softSince = now
		} else if now.Sub(s.softSince) >= c.srv.pubsubSoftTime() {
			if !c.psCut.Swap(true) {
				c.srv.stats.pubsubCut.Add(1)
			}
			return nil, evio.Abort
		}
		c.conn.AfterFunc(pubsubCheckInterval, check)
		return nil, evio.None
	}
	c.conn.AfterFunc(pubsubCheckInterval, check)
}

// cmdPubsubChannels lists the channels with subscribers, matching a
// pattern if one is given.
func cmdPubsubChannels(c *client, args [][]byte) {
	if len(args) > 3 {
		c.replyError("ERR unknown subcommand or wrong number of arguments for '" + truncate(args[1], 128) + "'. Try PUBSUB HELP.")
		return
	}
	var names []string
	reg := c.srv.pubsub
	reg.mu.RLock()
	for name := range reg.channels {
		if len(args) < 3 || globMatch(string(args[2]), name, false) {
			names = append(names, name)
		}
	}
	reg.mu.RUnlock()
	sort.Strings(names)
	c.replyArrayLen(len(names))
	for _, name := range names {
		c.replyBulkString(name)
	}
}

// cmdPubsubNumsub replies, for each channel named, the channel and its
// number of subscribers.
func cmdPubsubNumsub(c *client, args [][]byte) {
	reg := c.srv.pubsub
	c.replyArrayLen(2 * (len(args) - 2))
	reg.mu.RLock()
	for _, name := range args[2:] {
		c.replyBulk(name)
		c.replyInt(int64(len(reg.channels[string(name)])))
	}
	reg.mu.RUnlock()
}

// cmdPubsubNumpat replies the number of distinct patterns subscribed to.
func cmdPubsubNumpat(c *client, args [][]byte) {
	reg := c.srv.pubsub
	reg.mu.RLock()
	n := len(reg.patterns)
	reg.mu.RUnlock()
	c.replyInt(int64(n))
}

func cmdPubsubHelp(c *client, args [][]byte) {
	c.replyHelp("PUBSUB",
		"CHANNELS [<pattern>]", "    The channels with subscribers, those matching a glob pattern if one is given.",
		"NUMSUB [<channel> ...]", "    Each channel and its number of subscribers (patterns not counted).",
		"NUMPAT", "    The number of patterns subscribed to.")
}

// pingSubscribed is PING's reply in the subscribed state: an array of
// "pong" and the message (empty without one).
func (c *client) pingSubscribed(args [][]byte) {
	c.out = append(c.out, "*2\r\n$4\r\npong\r\n"...)
	if len(args) == 2 {
		c.replyBulk(args[1])
	} else {
		c.replyBulkString("")
	}
}

// cmdReset returns the connection to its state after connecting: no
// subscriptions, no name.
func cmdReset(c *client, args [][]byte) {
	c.unsubscribeAll()
	c.name = ""
	c.replyStatus("RESET")
}

// counts are the numbers of channels and patterns with subscribers, for
// INFO.
func (r *pubsubRegistry) counts() (channels, patterns int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.channels), len(r.patterns)
}
