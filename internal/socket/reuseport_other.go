//go:build !linux

package socket

// ReusePortBalances is false here: SO_REUSEPORT, where it exists, lets
// sockets share an address but does not spread connections over them (see
// the Linux file).
const ReusePortBalances = false
