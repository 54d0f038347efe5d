package main

import (
	"sort"
	"strings"
)

// command describes one command (or subcommand) as COMMAND and COMMAND
// DOCS report it, and runs it.
type command struct {
	name     string // lower case; "get", or "get" of "config|get"
	fullName string // "get", or "config|get": what arity errors name
	// arity is Redis's: N means exactly N arguments counting the command
	// name, -N means at least N.
	arity                      int
	flags                      []string
	firstKey, lastKey, keyStep int
	categories                 []string
	group, since, summary      string
	// write marks commands that change the keyspace: they are refused
	// while the append-only file cannot be written.
	write       bool
	run         func(c *client, args [][]byte)
	subcommands map[string]*command
	subOrder    []*command // subcommands in the order COMMAND lists them
}

func (cmd *command) arityAccepts(n int) bool {
	if cmd.arity >= 0 {
		return n == cmd.arity
	}
	return n >= -cmd.arity
}

// spec is a command's description in the table below.
type spec struct {
	name    string
	arity   int
	flags   string // space-separated, as in Redis's COMMAND reply
	keys    [3]int // first key, last key, step
	acl     string // ACL categories, space-separated
	group   string
	since   string
	summary string
	write   bool
	run     func(c *client, args [][]byte)
	subs    []spec
}

var (
	commandTable map[string]*command
	commandOrder []*command // sorted by name
)

func init() {
	commandTable, commandOrder = buildCommands(commandSpecs(), "")
}

// commandSpecs lists every command. A function rather than a variable:
// the run functions refer back to the table (COMMAND), and an
// initialisation cycle is not allowed.
func commandSpecs() []spec {
	str, gen, conn, srv := "string", "generic", "connection", "server"
	list, set, hash, zset, ps := "list", "set", "hash", "sorted-set", "pubsub"
	one := [3]int{1, 1, 1}
	none := [3]int{}
	return []spec{
		// Strings.
		{name: "get", arity: 2, flags: "readonly fast", keys: one, acl: "@read @string @fast", group: str, since: "1.0.0", summary: "Returns the value of a key, or nil.", run: cmdGet},
		{name: "set", arity: -3, flags: "write denyoom", keys: one, acl: "@write @string @slow", group: str, since: "1.0.0", summary: "Stores a value under a key, with options for expiry and conditions.", write: true, run: cmdSet},
		{name: "setnx", arity: 3, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Stores a value only if the key does not exist.", write: true, run: cmdSetNX},
		{name: "setex", arity: 4, flags: "write denyoom", keys: one, acl: "@write @string @slow", group: str, since: "2.0.0", summary: "Stores a value with an expiry in seconds.", write: true, run: cmdSetEX},
		{name: "psetex", arity: 4, flags: "write denyoom", keys: one, acl: "@write @string @slow", group: str, since: "2.6.0", summary: "Stores a value with an expiry in milliseconds.", write: true, run: cmdPSetEX},
		{name: "getset", arity: 3, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Stores a value and returns the one it replaced.", write: true, run: cmdGetSet},
		{name: "getdel", arity: 2, flags: "write fast", keys: one, acl: "@write @string @fast", group: str, since: "6.2.0", summary: "Returns the value of a key and deletes the key.", write: true, run: cmdGetDel},
		{name: "mget", arity: -2, flags: "readonly fast", keys: [3]int{1, -1, 1}, acl: "@read @string @fast", group: str, since: "1.0.0", summary: "Returns the values of several keys at once.", run: cmdMGet},
		{name: "mset", arity: -3, flags: "write denyoom", keys: [3]int{1, -1, 2}, acl: "@write @string @slow", group: str, since: "1.0.1", summary: "Stores several key-value pairs at once, atomically.", write: true, run: cmdMSet},
		{name: "incr", arity: 2, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Adds one to the integer value of a key (missing counts as 0).", write: true, run: cmdIncr},
		{name: "decr", arity: 2, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Subtracts one from the integer value of a key (missing counts as 0).", write: true, run: cmdDecr},
		{name: "incrby", arity: 3, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Adds an integer to the integer value of a key (missing counts as 0).", write: true, run: cmdIncrBy},
		{name: "decrby", arity: 3, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "1.0.0", summary: "Subtracts an integer from the integer value of a key (missing counts as 0).", write: true, run: cmdDecrBy},
		{name: "append", arity: 3, flags: "write denyoom fast", keys: one, acl: "@write @string @fast", group: str, since: "2.0.0", summary: "Appends to the value of a key, creating it if missing; returns the new length.", write: true, run: cmdAppend},
		{name: "strlen", arity: 2, flags: "readonly fast", keys: one, acl: "@read @string @fast", group: str, since: "2.2.0", summary: "Returns the length of the value of a key.", run: cmdStrlen},

		// Lists.
		{name: "lpush", arity: -3, flags: "write denyoom fast", keys: one, acl: "@write @list @fast", group: list, since: "1.0.0", summary: "Adds elements at the head of a list, creating it if missing; returns the new length.", write: true, run: cmdLPush},
		{name: "rpush", arity: -3, flags: "write denyoom fast", keys: one, acl: "@write @list @fast", group: list, since: "1.0.0", summary: "Adds elements at the tail of a list, creating it if missing; returns the new length.", write: true, run: cmdRPush},
		{name: "lpop", arity: -2, flags: "write fast", keys: one, acl: "@write @list @fast", group: list, since: "1.0.0", summary: "Removes and returns the first element of a list, or the first count.", write: true, run: cmdLPop},
		{name: "rpop", arity: -2, flags: "write fast", keys: one, acl: "@write @list @fast", group: list, since: "1.0.0", summary: "Removes and returns the last element of a list, or the last count.", write: true, run: cmdRPop},
		{name: "llen", arity: 2, flags: "readonly fast", keys: one, acl: "@read @list @fast", group: list, since: "1.0.0", summary: "Returns the length of a list.", run: cmdLLen},
		{name: "lrange", arity: 4, flags: "readonly", keys: one, acl: "@read @list @slow", group: list, since: "1.0.0", summary: "Returns the elements of a list between two indexes, negative ones counting from the end.", run: cmdLRange},
		{name: "lindex", arity: 3, flags: "readonly", keys: one, acl: "@read @list @slow", group: list, since: "1.0.0", summary: "Returns the element of a list at an index, or nil.", run: cmdLIndex},

		// Sets.
		{name: "sadd", arity: -3, flags: "write denyoom fast", keys: one, acl: "@write @set @fast", group: set, since: "1.0.0", summary: "Adds members to a set, creating it if missing; returns how many were new.", write: true, run: cmdSAdd},
		{name: "srem", arity: -3, flags: "write fast", keys: one, acl: "@write @set @fast", group: set, since: "1.0.0", summary: "Removes members from a set; returns how many were there.", write: true, run: cmdSRem},
		{name: "spop", arity: -2, flags: "write fast", keys: one, acl: "@write @set @fast", group: set, since: "1.0.0", summary: "Removes and returns a random member of a set, or count of them.", write: true, run: cmdSPop},
		{name: "scard", arity: 2, flags: "readonly fast", keys: one, acl: "@read @set @fast", group: set, since: "1.0.0", summary: "Returns the number of members of a set.", run: cmdSCard},
		{name: "smembers", arity: 2, flags: "readonly", keys: one, acl: "@read @set @slow", group: set, since: "1.0.0", summary: "Returns every member of a set.", run: cmdSMembers},
		{name: "sismember", arity: 3, flags: "readonly fast", keys: one, acl: "@read @set @fast", group: set, since: "1.0.0", summary: "Tells whether a value is a member of a set.", run: cmdSIsMember},

		// Hashes.
		{name: "hset", arity: -4, flags: "write denyoom fast", keys: one, acl: "@write @hash @fast", group: hash, since: "2.0.0", summary: "Sets fields of a hash, creating it if missing; returns how many fields were new.", write: true, run: cmdHSet},
		{name: "hmset", arity: -4, flags: "write denyoom fast", keys: one, acl: "@write @hash @fast", group: hash, since: "2.0.0", summary: "Sets fields of a hash, like HSET, and answers OK.", write: true, run: cmdHMSet},
		{name: "hget", arity: 3, flags: "readonly fast", keys: one, acl: "@read @hash @fast", group: hash, since: "2.0.0", summary: "Returns the value of a field of a hash, or nil.", run: cmdHGet},
		{name: "hmget", arity: -3, flags: "readonly fast", keys: one, acl: "@read @hash @fast", group: hash, since: "2.0.0", summary: "Returns the values of fields of a hash, nil for those missing.", run: cmdHMGet},
		{name: "hgetall", arity: 2, flags: "readonly", keys: one, acl: "@read @hash @slow", group: hash, since: "2.0.0", summary: "Returns every field of a hash and its value.", run: cmdHGetAll},
		{name: "hexists", arity: 3, flags: "readonly fast", keys: one, acl: "@read @hash @fast", group: hash, since: "2.0.0", summary: "Tells whether a hash has a field.", run: cmdHExists},
		{name: "hdel", arity: -3, flags: "write fast", keys: one, acl: "@write @hash @fast", group: hash, since: "2.0.0", summary: "Deletes fields of a hash; returns how many were there.", write: true, run: cmdHDel},
		{name: "hlen", arity: 2, flags: "readonly fast", keys: one, acl: "@read @hash @fast", group: hash, since: "2.0.0", summary: "Returns the number of fields of a hash.", run: cmdHLen},

		// Sorted sets.
		{name: "zadd", arity: -4, flags: "write denyoom fast", keys: one, acl: "@write @sortedset @fast", group: zset, since: "1.2.0", summary: "Adds members to a sorted set or changes their scores, with NX, XX, GT, LT, CH and INCR.", write: true, run: cmdZAdd},
		{name: "zrem", arity: -3, flags: "write fast", keys: one, acl: "@write @sortedset @fast", group: zset, since: "1.2.0", summary: "Removes members from a sorted set; returns how many were there.", write: true, run: cmdZRem},
		{name: "zpopmin", arity: -2, flags: "write fast", keys: one, acl: "@write @sortedset @fast", group: zset, since: "5.0.0", summary: "Removes and returns the members with the lowest scores, and their scores.", write: true, run: cmdZPopMin},
		{name: "zpopmax", arity: -2, flags: "write fast", keys: one, acl: "@write @sortedset @fast", group: zset, since: "5.0.0", summary: "Removes and returns the members with the highest scores, and their scores.", write: true, run: cmdZPopMax},
		{name: "zrange", arity: -4, flags: "readonly", keys: one, acl: "@read @sortedset @slow", group: zset, since: "1.2.0", summary: "Returns members of a sorted set by index, score (BYSCORE) or member (BYLEX).", run: cmdZRange},
		{name: "zcard", arity: 2, flags: "readonly fast", keys: one, acl: "@read @sortedset @fast", group: zset, since: "1.2.0", summary: "Returns the number of members of a sorted set.", run: cmdZCard},
		{name: "zscore", arity: 3, flags: "readonly fast", keys: one, acl: "@read @sortedset @fast", group: zset, since: "1.2.0", summary: "Returns the score of a member of a sorted set, or nil.", run: cmdZScore},

		// Keys.
		{name: "del", arity: -2, flags: "write", keys: [3]int{1, -1, 1}, acl: "@keyspace @write @slow", group: gen, since: "1.0.0", summary: "Deletes keys; returns how many existed.", write: true, run: cmdDel},
		{name: "unlink", arity: -2, flags: "write fast", keys: [3]int{1, -1, 1}, acl: "@keyspace @write @fast", group: gen, since: "4.0.0", summary: "Deletes keys, like DEL.", write: true, run: cmdDel},
		{name: "exists", arity: -2, flags: "readonly fast", keys: [3]int{1, -1, 1}, acl: "@keyspace @read @fast", group: gen, since: "1.0.0", summary: "Counts how many of the given keys exist.", run: cmdExists},
		{name: "type", arity: 2, flags: "readonly fast", keys: one, acl: "@keyspace @read @fast", group: gen, since: "1.0.0", summary: "Returns the type of the value of a key.", run: cmdType},
		{name: "expire", arity: -3, flags: "write fast", keys: one, acl: "@keyspace @write @fast", group: gen, since: "1.0.0", summary: "Sets a key's time to live in seconds.", write: true, run: cmdExpire},
		{name: "pexpire", arity: -3, flags: "write fast", keys: one, acl: "@keyspace @write @fast", group: gen, since: "2.6.0", summary: "Sets a key's time to live in milliseconds.", write: true, run: cmdPExpire},
		{name: "expireat", arity: -3, flags: "write fast", keys: one, acl: "@keyspace @write @fast", group: gen, since: "1.2.0", summary: "Sets a key's expiry as a Unix time in seconds.", write: true, run: cmdExpireAt},
		{name: "pexpireat", arity: -3, flags: "write fast", keys: one, acl: "@keyspace @write @fast", group: gen, since: "2.6.0", summary: "Sets a key's expiry as a Unix time in milliseconds.", write: true, run: cmdPExpireAt},
		{name: "ttl", arity: 2, flags: "readonly fast", keys: one, acl: "@keyspace @read @fast", group: gen, since: "1.0.0", summary: "Returns a key's remaining time to live in seconds.", run: cmdTTL},
		{name: "pttl", arity: 2, flags: "readonly fast", keys: one, acl: "@keyspace @read @fast", group: gen, since: "2.6.0", summary: "Returns a key's remaining time to live in milliseconds.", run: cmdPTTL},
		{name: "persist", arity: 2, flags: "write fast", keys: one, acl: "@keyspace @write @fast", group: gen, since: "2.2.0", summary: "Removes a key's expiry.", write: true, run: cmdPersist},
		{name: "keys", arity: 2, flags: "readonly", keys: none, acl: "@keyspace @read @slow @dangerous", group: gen, since: "1.0.0", summary: "Lists the keys that match a glob-style pattern.", run: cmdKeys},
		{name: "dbsize", arity: 1, flags: "readonly fast", keys: none, acl: "@keyspace @read @fast", group: srv, since: "1.0.0", summary: "Returns the number of keys.", run: cmdDBSize},
		{name: "flushdb", arity: -1, flags: "write", keys: none, acl: "@keyspace @write @slow @dangerous", group: srv, since: "1.0.0", summary: "Deletes every key.", write: true, run: cmdFlush},
		{name: "flushall", arity: -1, flags: "write", keys: none, acl: "@keyspace @write @slow @dangerous", group: srv, since: "1.0.0", summary: "Deletes every key.", write: true, run: cmdFlush},

		// Connection and server.
		{name: "ping", arity: -1, flags: "fast sentinel", acl: "@fast @connection", group: conn, since: "1.0.0", summary: "Answers PONG, or echoes its argument.", run: cmdPing},
		{name: "echo", arity: 2, flags: "fast", acl: "@fast @connection", group: conn, since: "1.0.0", summary: "Returns its argument.", run: cmdEcho},
		{name: "select", arity: 2, flags: "loading stale fast", acl: "@fast @connection", group: conn, since: "1.0.0", summary: "Selects the database; only database 0 exists.", run: cmdSelect},
		{name: "quit", arity: -1, flags: "noscript loading stale fast no_auth allow_busy", acl: "@fast @connection", group: conn, since: "1.0.0", summary: "Answers OK and closes the connection.", run: cmdQuit},
		{name: "auth", arity: -2, flags: "noscript loading stale fast no_auth sentinel allow_busy", acl: "@fast @connection", group: conn, since: "1.0.0", summary: "Authenticates the connection; no password is configured.", run: cmdAuth},
		{name: "hello", arity: -1, flags: "noscript loading stale fast no_auth sentinel allow_busy", acl: "@fast @connection", group: conn, since: "6.0.0", summary: "Describes the server; only protocol version 2 is spoken.", run: cmdHello},
		{name: "client", arity: -2, flags: "sentinel", acl: "@slow", group: conn, since: "2.4.0", summary: "Commands about client connections.", subs: []spec{
			{name: "id", arity: 2, flags: "noscript loading stale", acl: "@slow @connection", group: conn, since: "5.0.0", summary: "Returns the connection's unique ID.", run: cmdClientID},
			{name: "setname", arity: 3, flags: "noscript loading stale", acl: "@slow @connection", group: conn, since: "2.6.9", summary: "Names the connection.", run: cmdClientSetName},
			{name: "getname", arity: 2, flags: "noscript loading stale", acl: "@slow @connection", group: conn, since: "2.6.9", summary: "Returns the connection's name.", run: cmdClientGetName},
			{name: "setinfo", arity: 4, flags: "noscript loading stale", acl: "@slow @connection", group: conn, since: "7.2.0", summary: "Records the client library's name or version.", run: cmdClientSetInfo},
			{name: "info", arity: 2, flags: "noscript loading stale", acl: "@slow @connection", group: conn, since: "6.2.0", summary: "Describes the connection.", run: cmdClientInfo},
			{name: "list", arity: -2, flags: "admin noscript loading stale", acl: "@admin @slow @dangerous @connection", group: conn, since: "2.4.0", summary: "Describes client connections.", run: cmdClientList},
			{name: "help", arity: 2, flags: "loading stale", acl: "@slow @connection", group: conn, since: "5.0.0", summary: "Lists the subcommands.", run: cmdClientHelp},
		}},
		{name: "config", arity: -2, acl: "@slow", group: srv, since: "2.0.0", summary: "Commands about the server's configuration.", subs: []spec{
			{name: "get", arity: -3, flags: "admin noscript loading stale", acl: "@admin @slow @dangerous", group: srv, since: "2.0.0", summary: "Returns configuration parameters matching patterns.", run: cmdConfigGet},
			{name: "set", arity: -4, flags: "admin noscript loading stale", acl: "@admin @slow @dangerous", group: srv, since: "2.0.0", summary: "Changes configuration parameters; all are fixed here.", run: cmdConfigSet},
			{name: "resetstat", arity: 2, flags: "admin noscript loading stale", acl: "@admin @slow @dangerous", group: srv, since: "2.0.0", summary: "Resets the statistics INFO reports.", run: cmdConfigResetStat},
			{name: "rewrite", arity: 2, flags: "admin noscript loading stale", acl: "@admin @slow @dangerous", group: srv, since: "2.8.0", summary: "Rewrites the configuration file; there is none.", run: cmdConfigRewrite},
			{name: "help", arity: 2, flags: "loading stale", acl: "@slow", group: srv, since: "5.0.0", summary: "Lists the subcommands.", run: cmdConfigHelp},
		}},
		{name: "command", arity: -1, flags: "loading stale", acl: "@slow @connection", group: srv, since: "2.8.13", summary: "Describes the server's commands.", run: cmdCommand, subs: []spec{
			{name: "count", arity: 2, flags: "loading stale", acl: "@slow @connection", group: srv, since: "2.8.13", summary: "Returns the number of commands.", run: cmdCommandCount},
			{name: "info", arity: -2, flags: "loading stale", acl: "@slow @connection", group: srv, since: "2.8.13", summary: "Describes the given commands, or all of them.", run: cmdCommandInfo},
			{name: "docs", arity: -2, flags: "loading stale", acl: "@slow @connection", group: srv, since: "7.0.0", summary: "Documents the given commands, or all of them.", run: cmdCommandDocs},
			{name: "list", arity: -2, flags: "loading stale", acl: "@slow @connection", group: srv, since: "7.0.0", summary: "Lists the command names.", run: cmdCommandList},
			{name: "help", arity: 2, flags: "loading stale", acl: "@slow @connection", group: srv, since: "5.0.0", summary: "Lists the subcommands.", run: cmdCommandHelp},
		}},
		{name: "info", arity: -1, flags: "loading stale sentinel", acl: "@slow @dangerous", group: srv, since: "1.0.0", summary: "Returns information and statistics about the server.", run: cmdInfo},
		{name: "time", arity: 1, flags: "loading stale fast", acl: "@fast", group: srv, since: "2.6.0", summary: "Returns the server's clock.", run: cmdTime},
		{name: "reset", arity: 1, flags: "noscript loading stale fast no_auth allow_busy", acl: "@fast @connection", group: conn, since: "6.2.0", summary: "Returns the connection to its initial state: no subscriptions, no name.", run: cmdReset},

		// Publish/subscribe.
		{name: "subscribe", arity: -2, flags: "pubsub noscript loading stale", acl: "@pubsub @slow", group: ps, since: "2.0.0", summary: "Listens for messages published to channels.", run: cmdSubscribe},
		{name: "unsubscribe", arity: -1, flags: "pubsub noscript loading stale", acl: "@pubsub @slow", group: ps, since: "2.0.0", summary: "Stops listening to channels, or to all of them.", run: cmdUnsubscribe},
		{name: "psubscribe", arity: -2, flags: "pubsub noscript loading stale", acl: "@pubsub @slow", group: ps, since: "2.0.0", summary: "Listens for messages published to channels matching glob-style patterns.", run: cmdPSubscribe},
		{name: "punsubscribe", arity: -1, flags: "pubsub noscript loading stale", acl: "@pubsub @slow", group: ps, since: "2.0.0", summary: "Stops listening to patterns, or to all of them.", run: cmdPUnsubscribe},
		{name: "publish", arity: 3, flags: "pubsub loading stale fast may_replicate", acl: "@pubsub @fast", group: ps, since: "2.0.0", summary: "Posts a message to a channel; returns how many subscribers received it.", run: cmdPublish},
		{name: "pubsub", arity: -2, acl: "@slow", group: ps, since: "2.8.0", summary: "Commands about channels and patterns.", subs: []spec{
			{name: "channels", arity: -2, flags: "pubsub loading stale", acl: "@pubsub @slow", group: ps, since: "2.8.0", summary: "Lists the channels with subscribers, optionally matching a pattern.", run: cmdPubsubChannels},
			{name: "numsub", arity: -2, flags: "pubsub loading stale", acl: "@pubsub @slow", group: ps, since: "2.8.0", summary: "Returns the number of subscribers of channels.", run: cmdPubsubNumsub},
			{name: "numpat", arity: 2, flags: "pubsub loading stale", acl: "@pubsub @slow", group: ps, since: "2.8.0", summary: "Returns the number of patterns subscribed to.", run: cmdPubsubNumpat},
			{name: "help", arity: 2, flags: "loading stale", acl: "@slow", group: ps, since: "6.2.0", summary: "Lists the subcommands.", run: cmdPubsubHelp},
		}},

		{name: "shutdown", arity: -1, flags: "admin noscript loading stale no_multi sentinel allow_busy", acl: "@admin @slow @dangerous", group: srv, since: "1.0.0", summary: "Stops the server.", run: cmdShutdown},
	}
}

// buildCommands turns specs into a lookup table and a list sorted by name.
func buildCommands(specs []spec, parent string) (map[string]*command, []*command) {
	table := make(map[string]*command, len(specs))
	var order []*command
	for _, s := range specs {
		cmd := &command{
			name:       s.name,
			fullName:   s.name,
			arity:      s.arity,
			flags:      strings.Fields(s.flags),
			firstKey:   s.keys[0],
			lastKey:    s.keys[1],
			keyStep:    s.keys[2],
			categories: strings.Fields(s.acl),
			group:      s.group,
			since:      s.since,
			summary:    s.summary,
			write:      s.write,
			run:        s.run,
		}
		if parent != "" {
			cmd.fullName = parent + "|" + s.name
		}
		if len(s.subs) > 0 {
			cmd.subcommands, cmd.subOrder = buildCommands(s.subs, s.name)
		}
		table[s.name] = cmd
		order = append(order, cmd)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].name < order[j].name })
	return table, order
}

// maxCommandName is longer than any command's name; a longer one is
// unknown without a lookup.
const maxCommandName = 16

// findCommand looks name up case-insensitively, without allocating.
func findCommand(table map[string]*command, name []byte) *command {
	if len(name) > maxCommandName {
		return nil
	}
	var lower [maxCommandName]byte
	for i, c := range name {
		lower[i] = toLower(c)
	}
	return table[string(lower[:len(name)])]
}

// lookupCommand finds the command of a request, or returns Redis's error
// for it: an unknown command, or an unknown subcommand of a container
// command such as CONFIG.
func lookupCommand(args [][]byte) (*command, string) {
	cmd := findCommand(commandTable, args[0])
	if cmd == nil {
		return nil, unknownCommandError(args)
	}
	if cmd.subcommands == nil || len(args) == 1 {
		return cmd, ""
	}
	if sub := findCommand(cmd.subcommands, args[1]); sub != nil {
		return sub, ""
	}
	return nil, "ERR unknown subcommand '" + truncate(args[1], 128) + "'. Try " + strings.ToUpper(string(args[0])) + " HELP."
}

// unknownCommandError is Redis's reply to an unknown command: the name,
// and then as many arguments as fit in 128 bytes, each quoted and
// followed by a space.
func unknownCommandError(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(truncate(args[0], 128))
	b.WriteString("', with args beginning with: ")
	quoted := 0
	for _, arg := range args[1:] {
		if quoted >= 128 {
			break
		}
		s := truncate(arg, 128-quoted)
		b.WriteByte('\'')
		b.WriteString(s)
		b.WriteString("' ")
		quoted += len(s) + 3
	}
	return b.String()
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// equalFold reports whether b is s, ignoring ASCII case; s is lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if toLower(b[i]) != s[i] {
			return false
		}
	}
	return true
}
