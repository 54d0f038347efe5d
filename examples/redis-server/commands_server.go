package main

import (
	"strconv"
	"strings"
	"time"
)

// redisVersion is the Redis version the server answers as: the one whose
// commands, options and error texts it follows.
const redisVersion = "7.0.0"

func cmdPing(c *client, args [][]byte) {
	if c.subscribed() && len(args) <= 2 {
		c.pingSubscribed(args)
		return
	}
	switch len(args) {
	case 1:
		c.out = append(c.out, "+PONG\r\n"...)
	case 2:
		c.replyBulk(args[1])
	default:
		c.replyError("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *client, args [][]byte) { c.replyBulk(args[1]) }

// cmdSelect accepts database 0 only: the server has one database, and
// answers like a Redis configured with "databases 1".
func cmdSelect(c *client, args [][]byte) {
	n, ok := parseRedisInt(args[1])
	if !ok {
		c.replyNotInteger()
		return
	}
	if n != int64(int32(n)) {
		c.replyError("ERR value is out of range, value must between -2147483648 and 2147483647")
		return
	}
	if n != 0 {
		c.replyError("ERR DB index is out of range")
		return
	}
	c.replyOK()
}

// cmdQuit answers OK and closes the connection once the reply is written;
// requests pipelined after it are not run.
func cmdQuit(c *client, args [][]byte) {
	c.replyOK()
	c.closeAfterReply = true
}

// cmdShutdown stops the server. Like Redis, it sends no reply: the client
// sees the connection close.
func cmdShutdown(c *client, args [][]byte) {
	for _, opt := range args[1:] {
		if !equalFold(opt, "nosave") && !equalFold(opt, "save") && !equalFold(opt, "now") && !equalFold(opt, "force") {
			c.replySyntaxError()
			return
		}
	}
	if !c.shutdown && !c.replaying {
		c.srv.requestStop()
	}
	c.shutdown = true
}

// cmdAuth behaves like a Redis without a password: the default user
// accepts any password, no other user exists.
func cmdAuth(c *client, args [][]byte) {
	switch {
	case len(args) > 3:
		c.replySyntaxError()
	case len(args) == 2:
		c.replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	case string(args[1]) == "default":
		c.replyOK()
	default:
		c.replyError("WRONGPASS invalid username-password pair or user is disabled.")
	}
}

// cmdHello answers HELLO for RESP2 only. A client asking for RESP3 gets
// Redis's NOPROTO error, which go-redis, redis-py and others take as "speak
// RESP2"; HELLO 2 or no version gets the server's description.
func cmdHello(c *client, args [][]byte) {
	if len(args) >= 2 {
		version, ok := parseRedisInt(args[1])
		if !ok {
			c.replyError("ERR Protocol version is not an integer or out of range")
			return
		}
		if version != 2 {
			c.replyError("NOPROTO unsupported protocol version")
			return
		}
	}
	var name []byte
	setName := false
	for i := 2; i < len(args); i++ {
		more := len(args) - 1 - i
		switch {
		case equalFold(args[i], "auth") && more >= 2:
			if string(args[i+1]) != "default" {
				c.replyError("WRONGPASS invalid username-password pair or user is disabled.")
				return
			}
			i += 2
		case equalFold(args[i], "setname") && more >= 1:
			name, setName = args[i+1], true
			i++
		default:
			c.replyError("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if setName && !c.setName(name) {
		return
	}
	c.replyArrayLen(14)
	c.replyBulkString("server")
	c.replyBulkString("redis")
	c.replyBulkString("version")
	c.replyBulkString(redisVersion)
	c.replyBulkString("proto")
	c.replyInt(2)
	c.replyBulkString("id")
	c.replyInt(c.id)
	c.replyBulkString("mode")
	c.replyBulkString("standalone")
	c.replyBulkString("role")
	c.replyBulkString("master")
	c.replyBulkString("modules")
	c.replyArrayLen(0)
}

// setName sets the connection's name, or replies with Redis's error for a
// name CLIENT LIST could not show. An empty name clears it.
func (c *client) setName(name []byte) bool {
	if !isPrintableWord(name) {
		c.replyError("ERR Client names cannot contain spaces, newlines or special characters.")
		return false
	}
	c.name = string(name)
	return true
}

// isPrintableWord reports whether b is printable ASCII without spaces.
func isPrintableWord(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClientID(c *client, args [][]byte) { c.replyInt(c.id) }

func cmdClientSetName(c *client, args [][]byte) {
	if c.setName(args[2]) {
		c.replyOK()
	}
}

func cmdClientGetName(c *client, args [][]byte) {
	if c.name == "" {
		c.replyNull()
		return
	}
	c.replyBulkString(c.name)
}

// cmdClientSetInfo records the client library's name and version, which
// go-redis and redis-py send on connect (Redis 7.2).
func cmdClientSetInfo(c *client, args [][]byte) {
	attr, value := args[2], args[3]
	var dest *string
	switch {
	case equalFold(attr, "lib-name"):
		dest = &c.libName
	case equalFold(attr, "lib-ver"):
		dest = &c.libVersion
	default:
		c.replyError("ERR Unrecognized option '" + string(attr) + "'")
		return
	}
	if !isPrintableWord(value) {
		c.replyError("ERR " + string(attr) + " cannot contain spaces, newlines or special characters.")
		return
	}
	*dest = string(value)
	c.replyOK()
}

func cmdClientInfo(c *client, args [][]byte) {
	c.replyBulkString(c.describe() + "\n")
}

// cmdClientList lists this connection only: the connections of other
// loops are not this loop's to read.
func cmdClientList(c *client, args [][]byte) {
	c.replyBulkString(c.describe() + "\n")
}

// describe is the connection's line of CLIENT LIST.
func (c *client) describe() string {
	return "id=" + strconv.FormatInt(c.id, 10) + " addr=" + c.addr + " name=" + c.name +
		" db=0 cmd=" + c.lastCommand + " resp=2 lib-name=" + c.libName + " lib-ver=" + c.libVersion
}

func cmdClientHelp(c *client, args [][]byte) {
	c.replyHelp("CLIENT",
		"GETNAME", "    The connection's name, or nil.",
		"ID", "    The connection's unique ID.",
		"INFO", "    A line describing the connection.",
		"LIST", "    Lines describing client connections.",
		"SETINFO <LIB-NAME|LIB-VER> <value>", "    Record the client library's name or version.",
		"SETNAME <name>", "    Name the connection; an empty name clears it.")
}

// replyHelp answers a HELP subcommand with Redis's layout.
func (c *client) replyHelp(container string, lines ...string) {
	c.replyArrayLen(len(lines) + 3)
	c.replyStatus(container + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, line := range lines {
		c.replyStatus(line)
	}
	c.replyStatus("HELP")
	c.replyStatus("    List the subcommands.")
}

// cmdTime answers the server's clock: seconds and microseconds.
func cmdTime(c *client, args [][]byte) {
	now := time.Now()
	c.replyArrayLen(2)
	c.out = appendBulkInt(c.out, now.Unix())
	c.out = appendBulkInt(c.out, int64(now.Nanosecond()/1000))
}

// cmdInfo answers INFO with the sections asked for ("default", "all" and
// "everything" mean all of them).
func cmdInfo(c *client, args [][]byte) {
	want := func(section string) bool {
		if len(args) == 1 {
			return true
		}
		for _, a := range args[1:] {
			if equalFold(a, section) || equalFold(a, "default") || equalFold(a, "all") || equalFold(a, "everything") {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, section := range c.srv.infoSections() {
		if !want(strings.ToLower(section.name)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + section.name + "\r\n")
		for _, field := range section.fields {
			b.WriteString(field[0] + ":" + field[1] + "\r\n")
		}
	}
	c.replyBulkString(b.String())
}

// configParam is one parameter CONFIG GET reports.
type configParam struct{ name, value string }

func cmdConfigGet(c *client, args [][]byte) {
	params := c.srv.configParams()
	// names[i] is how parameter i is named in the reply, or "" when no
	// pattern matched it. Redis names a parameter asked for without
	// wildcards as it was asked for ("DATABASES"), and one matched by a
	// pattern as it is.
	names := make([]string, len(params))
	count := 0
	for _, pattern := range args[2:] {
		p := string(pattern)
		exact := !strings.ContainsAny(p, "*?[")
		for i, param := range params {
			if names[i] != "" || !globMatch(p, param.name, true) {
				continue
			}
			count++
			names[i] = param.name
			if exact {
				names[i] = p
			}
		}
	}
	c.replyArrayLen(2 * count)
	for i, param := range params {
		if names[i] != "" {
			c.replyBulkString(names[i])
			c.replyBulkString(param.value)
		}
	}
}

// cmdConfigSet refuses every change: the configuration is fixed by the
// command line. The errors are Redis's for an immutable and for an
// unknown parameter.
func cmdConfigSet(c *client, args [][]byte) {
	if len(args)%2 != 0 {
		c.replySyntaxError()
		return
	}
	name := string(args[2])
	for _, param := range c.srv.configParams() {
		if strings.EqualFold(param.name, name) {
			c.replyError("ERR CONFIG SET failed (possibly related to argument '" + name + "') - can't set immutable config")
			return
		}
	}
	c.replyError("ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'")
}

func cmdConfigResetStat(c *client, args [][]byte) {
	c.srv.stats.reset(c.srv.counters())
	c.replyOK()
}

func cmdConfigRewrite(c *client, args [][]byte) {
	c.replyError("ERR The server is running without a config file")
}

func cmdConfigHelp(c *client, args [][]byte) {
	c.replyHelp("CONFIG",
		"GET <pattern> [<pattern> ...]", "    The parameters whose names match a glob pattern, with their values.",
		"SET <parameter> <value>", "    Refused: the configuration comes from the command line.",
		"RESETSTAT", "    Reset the counters INFO reports.",
		"REWRITE", "    Refused: there is no configuration file.")
}

// cmdCommand is COMMAND without a subcommand: every command's description.
func cmdCommand(c *client, args [][]byte) {
	c.replyArrayLen(len(commandOrder))
	for _, cmd := range commandOrder {
		c.replyCommandInfo(cmd)
	}
}

func cmdCommandCount(c *client, args [][]byte) { c.replyInt(int64(len(commandOrder))) }

func cmdCommandInfo(c *client, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.replyArrayLen(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := findCommandPath(name); cmd != nil {
			c.replyCommandInfo(cmd)
		} else {
			c.replyNull()
		}
	}
}

// findCommandPath finds "get" or "config|get".
func findCommandPath(name []byte) *command {
	for i, ch := range name {
		if ch == '|' {
			parent := findCommand(commandTable, name[:i])
			if parent == nil || parent.subcommands == nil {
				return nil
			}
			return findCommand(parent.subcommands, name[i+1:])
		}
	}
	return findCommand(commandTable, name)
}

// replyCommandInfo writes a command's entry of COMMAND: name, arity,
// flags, first key, last key, step, ACL categories, tips, key
// specifications and subcommands.
func (c *client) replyCommandInfo(cmd *command) {
	c.replyArrayLen(10)
	c.replyBulkString(cmd.fullName)
	c.replyInt(int64(cmd.arity))
	c.replyArrayLen(len(cmd.flags))
	for _, f := range cmd.flags {
		c.replyStatus(f)
	}
	c.replyInt(int64(cmd.firstKey))
	c.replyInt(int64(cmd.lastKey))
	c.replyInt(int64(cmd.keyStep))
	c.replyArrayLen(len(cmd.categories))
	for _, cat := range cmd.categories {
		c.replyStatus(cat)
	}
	c.replyArrayLen(0) // tips
	c.replyArrayLen(0) // key specifications
	c.replyArrayLen(len(cmd.subOrder))
	for _, sub := range cmd.subOrder {
		c.replyCommandInfo(sub)
	}
}

// cmdCommandDocs answers COMMAND DOCS, which redis-cli asks for when it
// starts interactively: per command, its summary, version and group. The
// argument lists are left out; redis-cli then shows no hints.
func cmdCommandDocs(c *client, args [][]byte) {
	var cmds []*command
	if len(args) == 2 {
		cmds = commandOrder
	} else {
		for _, name := range args[2:] {
			if cmd := findCommandPath(name); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.replyArrayLen(2 * len(cmds))
	for _, cmd := range cmds {
		c.replyBulkString(cmd.fullName)
		c.replyCommandDocs(cmd)
	}
}

func (c *client) replyCommandDocs(cmd *command) {
	fields := 6
	if len(cmd.subOrder) > 0 {
		fields += 2
	}
	c.replyArrayLen(fields)
	c.replyBulkString("summary")
	c.replyBulkString(cmd.summary)
	c.replyBulkString("since")
	c.replyBulkString(cmd.since)
	c.replyBulkString("group")
	c.replyBulkString(cmd.group)
	if len(cmd.subOrder) > 0 {
		c.replyBulkString("subcommands")
		c.replyArrayLen(2 * len(cmd.subOrder))
		for _, sub := range cmd.subOrder {
			c.replyBulkString(sub.fullName)
			c.replyCommandDocs(sub)
		}
	}
}

// cmdCommandList lists the command names; the FILTERBY option is not
// supported.
func cmdCommandList(c *client, args [][]byte) {
	if len(args) > 2 {
		c.replySyntaxError()
		return
	}
	c.replyArrayLen(len(commandOrder))
	for _, cmd := range commandOrder {
		c.replyBulkString(cmd.name)
	}
}

func cmdCommandHelp(c *client, args [][]byte) {
	c.replyHelp("COMMAND",
		"(no subcommand)", "    Describe every command.",
		"COUNT", "    The number of commands.",
		"LIST", "    The command names.",
		"INFO [<command> ...]", "    Describe the given commands.",
		"DOCS [<command> ...]", "    Document the given commands.")
}
