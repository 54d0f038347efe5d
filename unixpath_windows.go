package evio

import (
	"errors"
	"syscall"
)

// wsaConnRefused is WSAECONNREFUSED, which Windows returns for a connect
// that nothing listened for; package syscall's ECONNREFUSED is an invented
// value there.
const wsaConnRefused = syscall.Errno(10061)

// connectionRefused reports a connect that nothing listened for.
func connectionRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, wsaConnRefused)
}
