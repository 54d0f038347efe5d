//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

const emfileChildEnv = "EVIO_EMFILE_CHILD"

func runEMFILEChild() int { return 1 }
