//go:build !windows

package evio

import (
	"errors"
	"syscall"
)

// connectionRefused reports a connect that nothing listened for.
func connectionRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
