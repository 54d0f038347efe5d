//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

// loopIndexOf tells which loop serves c.
func loopIndexOf(c Conn) int {
	if c, ok := c.(*stdConn); ok {
		return c.loop.index
	}
	return -1
}
