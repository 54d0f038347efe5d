package main

import (
	"bytes"
	"fmt"
)

// Loading the append-only file.
//
// The file is a sequence of commands, each written as this server (and
// Redis) writes them, and read back strictly:
//
//	*<count>\r\n   then, count times,   $<length>\r\n<length bytes>\r\n
//
// count at least 1, numbers in decimal without sign or leading zero, every
// CR followed by LF, and each command a write command with an acceptable
// number of arguments that succeeds when replayed.
//
// A crash in the middle of a write leaves the last command torn: the file
// ends inside it. The rule for a torn tail is: what follows the last whole
// command runs to the end of the file and is a prefix of a command as
// above; its count and lengths, as far as they go, are well-formed; its
// name, if complete, is a write command accepting that count; and it does
// not swallow a whole command, that is, no bytes of an argument cut short
// hold, after a CRLF, a whole write command. Such a tail is cut off the
// file, as Redis's aof-load-truncated does, so that new commands append
// after whole ones; everything before it is loaded.
//
// Anything else is damage: a bad marker, count or length, a missing CRLF,
// bytes that are no command, a command unknown, not a write, or failing
// when replayed, or a length that runs past the end of the file over
// commands after it (a length damaged upward, which would otherwise pass
// for a torn value and cost every command after it). The server then
// refuses to start, names the offset of the damage, and leaves the file
// as it is. Damage that leaves the last command a valid prefix, such as
// its count damaged upward, cannot be told from a tear.

// aofDamage is damage found in the append-only file.
type aofDamage struct {
	offset  int // of the damaged bytes
	command int // where the command holding them starts
	reason  string
}

func (d *aofDamage) Error() string {
	if d.offset == d.command {
		return fmt.Sprintf("damaged at byte offset %d: %s", d.offset, d.reason)
	}
	return fmt.Sprintf("damaged at byte offset %d, in the command at offset %d: %s", d.offset, d.command, d.reason)
}

// Bounds on what the file may declare, as on what a client may send.
const (
	maxLoggedArgs   = 1<<31 - 1
	maxLoggedLength = maxBulkLength
)

// loggedCommand is a command read from the file, or the start of one that
// the file ends inside.
type loggedCommand struct {
	args [][]byte // the whole arguments read, aliasing the file's bytes
	next int      // offset after the command, when it is whole
	// count is the declared number of arguments; 0 if the file ends
	// before it is known.
	count int
	// torn is set when the file ends inside the command.
	torn bool
	// cutHeader and cutBytes are the offsets of the header and of the
	// bytes of the argument the file ends inside the bytes of; cutHeader
	// is -1 if it ends elsewhere.
	cutHeader, cutBytes int
}

// readLoggedCommand reads the command that starts at data[start:]. args is
// reused for its arguments. It returns damage as an *aofDamage.
func readLoggedCommand(data []byte, start int, args [][]byte) (loggedCommand, error) {
	cmd := loggedCommand{args: args[:0], cutHeader: -1}
	count, pos, torn, err := readLogHeader(data, start, start, '*', 1, maxLoggedArgs)
	if err != nil || torn {
		cmd.torn = torn
		return cmd, err
	}
	cmd.count = count
	for i := 0; i < count; i++ {
		header := pos
		var n int
		n, pos, torn, err = readLogHeader(data, pos, start, '$', 0, maxLoggedLength)
		if err != nil || torn {
			cmd.torn = torn
			return cmd, err
		}
		end := pos + n
		if len(data) < end+2 {
			// The file ends inside the argument: what there is of its
			// CRLF must be one.
			if len(data) > end && data[end] != '\r' {
				return cmd, badArgumentEnd(header, start, pos, n)
			}
			cmd.torn, cmd.cutHeader, cmd.cutBytes = true, header, pos
			return cmd, nil
		}
		if data[end] != '\r' || data[end+1] != '\n' {
			return cmd, badArgumentEnd(header, start, pos, n)
		}
		cmd.args = append(cmd.args, data[pos:end:end])
		pos = end + 2
	}
	cmd.next = pos
	return cmd, nil
}

// badArgumentEnd is the damage of an argument whose declared length does
// not end at a CRLF.
func badArgumentEnd(header, start, pos, n int) error {
	return &aofDamage{header, start, fmt.Sprintf(
		"the argument of %d bytes at offset %d is not followed by CRLF: its length is wrong, or bytes were lost or added", n, pos)}
}

// readLogHeader reads a header line, marker then a decimal number from
// least to most then CRLF, at data[pos:], within the command at start. It
// returns the number and the offset after the line, or torn if the file
// ends inside a line that is well-formed so far.
func readLogHeader(data []byte, pos, start int, marker byte, least, most int) (n, next int, torn bool, err error) {
	damage := func(at int, format string, args ...interface{}) (int, int, bool, error) {
		return 0, 0, false, &aofDamage{at, start, fmt.Sprintf(format, args...)}
	}
	if pos == len(data) {
		return 0, 0, true, nil
	}
	if data[pos] != marker {
		return damage(pos, "expected %q, found %q", marker, data[pos])
	}
	i := pos + 1
	var value int64 // int64: 10*most overflows a 32-bit int
	for ; i < len(data) && '0' <= data[i] && data[i] <= '9'; i++ {
		if i > pos+1 && value == 0 {
			return damage(pos, "%q line declares a number with a leading zero", marker)
		}
		value = value*10 + int64(data[i]-'0')
		if value > int64(most) {
			return damage(pos, "%q line declares more than %d", marker, most)
		}
	}
	n = int(value)
	digits := i - pos - 1
	// A number cut short by the end of the file may yet grow, except a
	// zero, which no digit may follow.
	if digits > 0 && n == 0 && least > 0 {
		return damage(pos, "%q line declares 0, want a number from %d", marker, least)
	}
	if i == len(data) {
		return 0, 0, true, nil
	}
	if data[i] != '\r' {
		return damage(i, "expected a digit or CR in a %q line, found %q", marker, data[i])
	}
	if digits == 0 || n < least {
		return damage(pos, "%q line declares %q, want a number from %d", marker, data[pos+1:i], least)
	}
	if i+1 == len(data) {
		return 0, 0, true, nil
	}
	if data[i+1] != '\n' {
		return damage(i+1, "CR not followed by LF")
	}
	return n, i + 2, false, nil
}

// checkLoggedName checks that the first argument of a logged command names
// a write command that accepts count arguments.
func checkLoggedName(args [][]byte, count, start int) error {
	cmd := findCommand(commandTable, args[0])
	switch {
	case cmd == nil:
		return &aofDamage{start, start, fmt.Sprintf("unknown command %q", truncate(args[0], 64))}
	case !cmd.write:
		return &aofDamage{start, start, fmt.Sprintf("%q is not a write command", truncate(args[0], 64))}
	case !cmd.arityAccepts(count):
		return &aofDamage{start, start, fmt.Sprintf("wrong number of arguments (%d) for %s", count, cmd.fullName)}
	}
	return nil
}

// checkTorn checks that cmd, which the file ends inside, is a torn write
// (see the rule at the top of this file) and not damage.
func checkTorn(data []byte, start int, cmd loggedCommand) error {
	if len(cmd.args) > 0 {
		if err := checkLoggedName(cmd.args, cmd.count, start); err != nil {
			return err
		}
	}
	if cmd.cutHeader < 0 {
		return nil
	}
	// An argument's length damaged upward passes for a value torn while
	// it was written, but then swallows the commands after it: look for
	// one, starting at a line, in the bytes the argument was cut short
	// in.
	var args [][]byte
	for from := cmd.cutBytes; ; {
		i := bytes.Index(data[from:], []byte("\r\n*"))
		if i < 0 {
			return nil
		}
		at := from + i + 2
		next, err := readLoggedCommand(data, at, args)
		if err == nil && !next.torn && checkLoggedName(next.args, next.count, at) == nil {
			return &aofDamage{cmd.cutHeader, start, fmt.Sprintf(
				"the argument's length runs past the end of the file, over the whole command at offset %d: the length is wrong "+
					"(if the file was instead cut short while writing a value that holds commands, truncate it to %d bytes)", at, start)}
		}
		args = next.args
		from = at
	}
}

// replay executes the commands of an append-only file and returns the
// length of its whole commands: what follows them is a torn command to be
// cut off. No key expires while it runs (see keyspace).
func (s *server) replay(data []byte) (int, error) {
	c := &client{srv: s, replaying: true}
	s.db.loading = true
	defer func() { s.db.loading = false }()
	var args [][]byte
	pos := 0
	for pos < len(data) {
		cmd, err := readLoggedCommand(data, pos, args)
		if err != nil {
			return pos, err
		}
		if cmd.torn {
			return pos, checkTorn(data, pos, cmd)
		}
		if err := checkLoggedName(cmd.args, cmd.count, pos); err != nil {
			return pos, err
		}
		c.out = c.out[:0]
		c.execute(cmd.args)
		// A logged command succeeded on the keyspace the replay has
		// rebuilt so far; failing now means the file is not that log.
		if len(c.out) > 0 && c.out[0] == '-' {
			return pos, &aofDamage{pos, pos, fmt.Sprintf("%s failed when replayed: %s", c.lastCommand, bytes.TrimRight(c.out[1:], "\r\n"))}
		}
		args = cmd.args
		pos = cmd.next
	}
	return pos, nil
}
