// Package uring is a minimal io_uring binding for the loops of an io_uring
// engine (Linux): one ring per loop, its submission and completion queues
// mapped once, entries written and read with the memory ordering the
// kernel's uapi asks for, and a setup that says clearly when io_uring is
// missing or refused (ErrUnavailable), so that the caller falls back to
// epoll. It is the first piece of the io_uring engine and is not wired
// into the library yet.
//
// A Ring belongs to one goroutine, which must stay on one OS thread
// (runtime.LockOSThread) when the ring is set up with SingleIssuer: the
// kernel checks that every submission comes from the thread that set the
// ring up.
package uring
