//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import "time"

// roundSeconds rounds a positive keepalive period up to whole seconds, the
// unit of the socket options.
func roundSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return secs
}
