// Package socket holds the socket work of the engines that knows nothing of
// event loops: creating non-blocking, close-on-exec sockets, accepting,
// setting options, asking whether a closing connection has settled, and
// converting between socket addresses and net.Addr. On systems without
// epoll or kqueue only the portable engine's helpers are built.
package socket
