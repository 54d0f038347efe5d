/*
 * floor: the cheapest server the harness knows how to write, the floor no Go
 * library can go below. Single-threaded, non-blocking, level-triggered
 * epoll, one read buffer for every connection, the reply written right after
 * the read that produced it, and EPOLLOUT armed only while a write is partial.
 *
 *   floor -port 5000 -loops 1 -mode echo|http|redis|udp
 *
 * http answers every pipelined request with the plaintext response of
 * internal/plaintext (same bytes); redis answers PING, SET and GET (inline
 * or multibulk, pipelined) and CONFIG GET, as the Go servers do. udp is a UDP
 * echo: each datagram sent back to its sender with one recvfrom and one
 * sendto, the plain way, no batches (see serve_udp).
 */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

typedef struct { buf in, out; int closing, armed; } conn; /* in: an incomplete request */
static int ep;
static conn **conns; /* indexed by fd */
static char rbuf[65536];

static void drop(int fd) {
	conn *c = conns[fd];
	close(fd); /* also removes it from the epoll set */
	free(c->in.p); free(c->out.p); free(c);
	conns[fd] = NULL;
}

/* want sets the events fd is polled for: EPOLLOUT only while output waits. */
static void want(int fd, conn *c, int out) {
	if (c->armed == out) return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	c->armed = out;
}

/* send writes p at once when nothing is queued before it, and queues what
 * the socket does not take. Returns 0 when the connection was dropped. */
static int send_(int fd, conn *c, const char *p, size_t n) {
	if (!c->out.len) {
		while (n) {
			ssize_t w = write(fd, p, n);
			if (w < 0 && errno == EAGAIN) break;
			if (w < 0) { drop(fd); return 0; }
			p += w, n -= w;
		}
	}
	if (n) { put(&c->out, p, n); want(fd, c, 1); }
	else if (c->closing && !c->out.len) { drop(fd); return 0; }
	return 1;
}

/* writable flushes the queue once the socket takes more. */
static void writable(int fd, conn *c) {
	size_t off = 0;
	while (off < c->out.len) {
		ssize_t w = write(fd, c->out.p + off, c->out.len - off);
		if (w < 0 && errno == EAGAIN) break;
		if (w < 0) { drop(fd); return; }
		off += w;
	}
	memmove(c->out.p, c->out.p + off, c->out.len - off);
	c->out.len -= off;
	if (c->out.len) return;
	if (c->closing) { drop(fd); return; }
	want(fd, c, 0);
}

static void readable(int fd, conn *c) {
	ssize_t n = read(fd, rbuf, sizeof rbuf);
	if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(fd); return; }
	if (n < 0) return;
	if (mode == ECHO) { send_(fd, c, rbuf, n); return; }
	char *d = rbuf;
	size_t len = n;
	if (c->in.len) { put(&c->in, rbuf, n); d = c->in.p; len = c->in.len; }
	reply.len = 0;
	long used = mode == HTTP ? http(d, len) : redis(d, len);
	if (used < 0) c->closing = 1, used = len;
	if (d == c->in.p) { memmove(c->in.p, d + used, len - used); c->in.len = len - used; }
	else if ((size_t)used < len) put(&c->in, d + used, len - used);
	if (reply.len || c->closing) send_(fd, c, reply.p, reply.len);
}

/* serve_udp echoes datagrams on 127.0.0.1:port: level-triggered epoll, and
 * for each readiness up to 64 datagrams, each read with recvfrom into the
 * one buffer and sent back at once with sendto (a reply the kernel refuses
 * is dropped, as UDP may). */
static int serve_udp(int port) {
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (struct sockaddr *)&sa, sizeof sa)) { perror("bind"); return 1; }
	ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	for (;;) {
		if (epoll_wait(ep, &ev, 1, 1000) < 1) continue;
		for (int i = 0; i < 64; i++) {
			struct sockaddr_in from;
			socklen_t fromlen = sizeof from;
			ssize_t n = recvfrom(s, rbuf, sizeof rbuf, 0, (struct sockaddr *)&from, &fromlen);
			if (n < 0) break; /* EAGAIN, or an error a past datagram left */
			sendto(s, rbuf, n, 0, (struct sockaddr *)&from, fromlen);
		}
	}
}

int main(int argc, char **argv) {
	int port = 5000, udp = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-port")) port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-mode")) mode = !strcmp(argv[i + 1], "http") ? HTTP : !strcmp(argv[i + 1], "redis") ? REDIS : ECHO, udp = !strcmp(argv[i + 1], "udp");
		else if (strcmp(argv[i], "-loops")) { fprintf(stderr, "usage: floor -port N -loops 1 -mode echo|http|redis|udp\n"); return 2; }
	}
	if (udp) return serve_udp(port);
	/* Raise the descriptor limit to its maximum, for the idle-connection test. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	conns = calloc(rl.rlim_cur, sizeof *conns);
	signal(SIGPIPE, SIG_IGN);

	int ln = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Linux copies TCP_NODELAY from the listener to every accepted socket:
	 * set once here, no syscall per accept. */
	setsockopt(ln, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ln, (struct sockaddr *)&sa, sizeof sa) || listen(ln, SOMAXCONN)) { perror("listen"); return 1; }
	ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ln}, evs[512];
	epoll_ctl(ep, EPOLL_CTL_ADD, ln, &ev);
	time_t last = 0;
	for (;;) {
		int n = epoll_wait(ep, evs, 512, 1000);
		time_t now = time(NULL);
		if (now != last) { /* the Date header, refreshed once a second */
			last = now;
			strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&now));
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ln) {
				int c;
				while ((c = accept4(ln, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					conns[c] = calloc(1, sizeof(conn));
					ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			conn *c = conns[fd];
			if (!c) continue;
			if (evs[i].events & EPOLLOUT) writable(fd, c);
			if (conns[fd] && !conns[fd]->closing && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(fd, c);
		}
	}
}
