//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

func readSomaxconn() int { return unix.SOMAXCONN }
