//go:build dragonfly || openbsd

package socket

// unacknowledged cannot be known here: these systems have no ioctl or
// socket option that counts a socket's unacknowledged output. A closing
// connection lingers only while it has unread input.
func unacknowledged(fd int) int { return 0 }
