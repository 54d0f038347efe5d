/*
 * floor: the cheapest server the harness knows how to write, the floor no Go
 * library can go below. Single-threaded, non-blocking, level-triggered
 * epoll, one read buffer for every connection, the reply written right after
 * the read that produced it, and EPOLLOUT armed only while a write is partial.
 *
 *   floor -port 5000 -loops 1 -mode echo|http|redis
 *
 * http answers every pipelined request with the plaintext response of
 * internal/plaintext (same bytes); redis answers PING, SET and GET (inline
 * or multibulk, pipelined) and CONFIG GET, as the Go servers do.
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

enum { ECHO, HTTP, REDIS };
typedef struct { char *p; size_t len, cap; } buf;
typedef struct { buf in, out; int closing, armed; } conn; /* in: an incomplete request */

static int mode, ep;
static conn **conns; /* indexed by fd */
static char rbuf[65536];
static buf reply;  /* replies to one read, built here, then written */
static char date[64];

static void put(buf *b, const void *p, size_t n) {
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if (!(b->p = realloc(b->p, b->cap))) abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}
#define PUTS(b, s) put(b, s, strlen(s))

/* http: one response per complete request; returns bytes used, -1 = close. */
static long http(const char *d, size_t n) {
	size_t used = 0;
	while (used < n) {
		const char *r = d + used, *end = memmem(r, n - used, "\r\n\r\n", 4), *h;
		if (!end) return n - used > 65536 ? -1 : (long)used;
		size_t body = 0;
		int cl = 0;
		for (h = memchr(r, '\n', end - r); h && h < end; h = memchr(h, '\n', end - h)) {
			h++;
			if (!strncasecmp(h, "content-length:", 15)) body = strtoul(h + 15, NULL, 10);
			if (!strncasecmp(h, "connection:", 11)) cl = !strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5);
		}
		if ((size_t)(end + 4 - r) + body > n - used) break;
		used += end + 4 - r + body;
		PUTS(&reply, "HTTP/1.1 200 OK\r\nServer: bench\r\nDate: ");
		PUTS(&reply, date);
		PUTS(&reply, "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n");
		if (cl) PUTS(&reply, "Connection: close\r\n");
		PUTS(&reply, "\r\nHello, World!");
		if (cl) return -1;
	}
	return used;
}

/* redis: a chained hash table of key -> value. */
typedef struct ent { struct ent *next; buf k, v; } ent;
static ent *table[1 << 16];

static ent **lookup(const char *k, size_t n) {
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
	ent **e = &table[h & 0xffff];
	while (*e && ((*e)->k.len != n || memcmp((*e)->k.p, k, n))) e = &(*e)->next;
	return e;
}

static void bulk(const char *p, size_t n) {
	char hdr[32];
	put(&reply, hdr, snprintf(hdr, sizeof hdr, "$%zu\r\n", n));
	put(&reply, p, n);
	PUTS(&reply, "\r\n");
}

static void exec(int argc, char **argv, size_t *len) {
	if (argc == 1 && len[0] == 4 && !strncasecmp(argv[0], "PING", 4)) PUTS(&reply, "+PONG\r\n");
	else if (argc == 3 && len[0] == 3 && !strncasecmp(argv[0], "SET", 3)) {
		ent **e = lookup(argv[1], len[1]);
		if (!*e) { *e = calloc(1, sizeof **e); put(&(*e)->k, argv[1], len[1]); }
		(*e)->v.len = 0;
		put(&(*e)->v, argv[2], len[2]);
		PUTS(&reply, "+OK\r\n");
	} else if (argc == 2 && len[0] == 3 && !strncasecmp(argv[0], "GET", 3)) {
		ent *e = *lookup(argv[1], len[1]);
		if (e) bulk(e->v.p, e->v.len); else PUTS(&reply, "$-1\r\n");
	} else if (argc == 3 && len[0] == 6 && !strncasecmp(argv[0], "CONFIG", 6)) {
		PUTS(&reply, "*2\r\n"); bulk(argv[2], len[2]); PUTS(&reply, "$0\r\n\r\n");
	} else PUTS(&reply, "-ERR unknown command\r\n");
}

/* redis: execute every complete command; returns bytes used, -1 = close. */
static long redis(char *d, size_t n) {
	char *argv[8], *p, *e;
	size_t len[8], used = 0;
	while (used < n) {
		int argc = 0;
		p = d + used;
		if (*p != '*') { /* inline: words up to LF */
			if (!(e = memchr(p, '\n', d + n - p))) break;
			for (char *w = p; w < e && argc < 8;) {
				size_t l = strcspn(w, " \r\n");
				if (l) { argv[argc] = w; len[argc++] = l; }
				w += l + 1;
			}
			used = e + 1 - d;
		} else {
			if (!(e = memchr(p, '\n', d + n - p))) break;
			int count = atoi(p + 1), i;
			for (p = e + 1, i = 0; i < count; i++) {
				if (p >= d + n || !(e = memchr(p, '\n', d + n - p))) break;
				if (*p != '$') return -1;
				size_t l = strtoul(p + 1, NULL, 10);
				if (e + 1 + l + 2 > d + n) break;
				if (i < 8) { argv[argc] = e + 1; len[argc++] = l; }
				p = e + 1 + l + 2;
			}
			if (i < count) break;
			used = p - d;
		}
		if (argc) exec(argc, argv, len);
	}
	return used;
}

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

int main(int argc, char **argv) {
	int port = 5000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-port")) port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-mode")) mode = !strcmp(argv[i + 1], "http") ? HTTP : !strcmp(argv[i + 1], "redis") ? REDIS : ECHO;
		else if (strcmp(argv[i], "-loops")) { fprintf(stderr, "usage: floor -port N -loops 1 -mode echo|http|redis\n"); return 2; }
	}
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
