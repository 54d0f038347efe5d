/*
 * proto.h: what the C floors answer, shared by floor.c (epoll) and uring.c
 * (io_uring) so that they differ only in their event loops: the buffers,
 * the plaintext HTTP response and the small Redis subset.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { ECHO, HTTP, REDIS };
typedef struct { char *p; size_t len, cap; } buf;

static buf reply;  /* replies to one read, built here, then written */
static int mode;
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
