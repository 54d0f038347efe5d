//go:build !linux

package main

import "os"

// syncData flushes f to disk; fdatasync(2) is Linux's.
func syncData(f *os.File) error { return f.Sync() }
