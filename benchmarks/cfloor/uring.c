/*
 * uring: floor.c's server on io_uring instead of epoll, the floor for evio's
 * io_uring engine. Same answers (proto.h), same single thread; the loop is
 * one ring with SINGLE_ISSUER and DEFER_TASKRUN, a multishot accept, a
 * multishot receive per connection into a ring of provided buffers (a
 * connection holds no buffer while it waits), and at most one send in
 * flight per connection: replies produced while it flies wait in a second
 * buffer. Sends are only queued while completions are handled; the
 * io_uring_enter that waits for the next completions submits them, so an
 * iteration is one system call.
 *
 *   uring -port 5000 -loops 1 -mode echo|http|redis
 *
 * A descriptor is closed only once no operation references it, so that a
 * completion can never name a reused descriptor.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };
enum { NBUFS = 512, BUFSZ = 16384, GROUP = 0 };

typedef struct {
	buf in;          /* an incomplete request */
	buf out, next;   /* out: in flight from sent on; next: queued behind it */
	size_t sent;
	int recving, sending, closing, dirty;
} conn;

static struct io_uring ring;
static struct io_uring_buf_ring *bufring;
static char *bufs;
static conn **conns; /* indexed by fd */
static int *dirty, ndirty;

static struct io_uring_sqe *sqe(void) {
	struct io_uring_sqe *e;
	while (!(e = io_uring_get_sqe(&ring))) io_uring_submit(&ring);
	return e;
}

static void arm_recv(int fd) {
	struct io_uring_sqe *e = sqe();
	io_uring_prep_recv_multishot(e, fd, NULL, 0, 0);
	e->flags |= IOSQE_BUFFER_SELECT;
	e->buf_group = GROUP;
	io_uring_sqe_set_data64(e, (__u64)fd << 8 | OP_RECV);
	conns[fd]->recving = 1;
}

static void give_back(int id) {
	io_uring_buf_ring_add(bufring, bufs + (size_t)id * BUFSZ, BUFSZ, id, io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(bufring, 1); /* a release store of the tail */
}

static void submit_send(int fd, conn *c) {
	struct io_uring_sqe *e = sqe();
	io_uring_prep_send(e, fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(e, (__u64)fd << 8 | OP_SEND);
	c->sending = 1;
}

/* settle closes a closing connection once nothing references its fd. */
static void settle(int fd) {
	conn *c = conns[fd];
	if (!c->closing || c->recving || c->sending || c->out.len) return;
	close(fd);
	free(c->in.p); free(c->out.p); free(c->next.p); free(c);
	conns[fd] = NULL;
}

/* queue adds a reply behind what is in flight; the batch's end sends it. */
static void queue(int fd, conn *c, const char *p, size_t n) {
	put(c->sending ? &c->next : &c->out, p, n);
	if (!c->dirty) c->dirty = 1, dirty[ndirty++] = fd;
}

static void received(int fd, conn *c, char *d, size_t n) {
	if (mode == ECHO) { queue(fd, c, d, n); return; }
	size_t len = n;
	if (c->in.len) { put(&c->in, d, n); d = c->in.p; len = c->in.len; }
	reply.len = 0;
	long used = mode == HTTP ? http(d, len) : redis(d, len);
	if (used < 0) c->closing = 1, used = len;
	if (d == c->in.p) { memmove(c->in.p, d + used, len - used); c->in.len = len - used; }
	else if ((size_t)used < len) put(&c->in, d + used, len - used);
	if (reply.len) queue(fd, c, reply.p, reply.len);
	if (c->closing && !c->dirty) c->dirty = 1, dirty[ndirty++] = fd;
}

static void on_recv(int fd, struct io_uring_cqe *cqe) {
	conn *c = conns[fd];
	int more = cqe->flags & IORING_CQE_F_MORE;
	if (!more) c->recving = 0;
	if (cqe->res > 0) {
		int id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (!c->closing) received(fd, c, bufs + (size_t)id * BUFSZ, cqe->res);
		give_back(id);
		if (!more && !c->closing) arm_recv(fd);
	} else if (cqe->res == -ENOBUFS && !c->closing) {
		arm_recv(fd); /* submitted after the batch gave its buffers back */
	} else if (!more) {
		c->closing = 1; /* end of stream or error: close once replies are out */
		if (!c->dirty) c->dirty = 1, dirty[ndirty++] = fd;
	}
	settle(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe) {
	conn *c = conns[fd];
	c->sending = 0;
	if (cqe->res < 0) { /* the peer is gone: end the receive too */
		c->closing = 1;
		c->out.len = c->next.len = c->sent = 0;
		if (c->recving) shutdown(fd, SHUT_RDWR);
		settle(fd);
		return;
	}
	c->sent += cqe->res;
	if (c->sent < c->out.len) { submit_send(fd, c); return; }
	buf t = c->out; /* done: what queued behind it goes next */
	c->out = c->next, c->next = t, c->next.len = 0, c->sent = 0;
	if (c->out.len) submit_send(fd, c);
	else if (c->closing && c->recving) shutdown(fd, SHUT_RDWR);
	settle(fd);
}

int main(int argc, char **argv) {
	int port = 5000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-port")) port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-mode")) mode = !strcmp(argv[i + 1], "http") ? HTTP : !strcmp(argv[i + 1], "redis") ? REDIS : ECHO;
		else if (strcmp(argv[i], "-loops")) { fprintf(stderr, "usage: uring -port N -loops 1 -mode echo|http|redis\n"); return 2; }
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	conns = calloc(rl.rlim_cur, sizeof *conns);
	dirty = calloc(rl.rlim_cur, sizeof *dirty);
	signal(SIGPIPE, SIG_IGN);

	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE, .cq_entries = 16384};
	int err = io_uring_queue_init_params(4096, &ring, &p);
	if (err) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-err)); return 1; }
	bufring = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = mmap(NULL, (size_t)NBUFS * BUFSZ, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)bufring, .ring_entries = NBUFS, .bgid = GROUP};
	if ((err = io_uring_register_buf_ring(&ring, &reg, 0))) { fprintf(stderr, "register_buf_ring: %s\n", strerror(-err)); return 1; }
	io_uring_buf_ring_init(bufring);
	for (int i = 0; i < NBUFS; i++) give_back(i);

	int ln = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(ln, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ln, (struct sockaddr *)&sa, sizeof sa) || listen(ln, SOMAXCONN)) { perror("listen"); return 1; }
	struct io_uring_sqe *e = sqe();
	io_uring_prep_multishot_accept(e, ln, NULL, NULL, 0);
	io_uring_sqe_set_data64(e, OP_ACCEPT);

	time_t last = 0;
	for (;;) {
		io_uring_submit_and_wait(&ring, 1);
		time_t now = time(NULL);
		if (now != last) {
			last = now;
			strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&now));
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			__u64 ud = io_uring_cqe_get_data64(cqe);
			int fd = ud >> 8;
			switch (ud & 0xff) {
			case OP_ACCEPT:
				if (cqe->res >= 0) {
					conns[cqe->res] = calloc(1, sizeof(conn));
					arm_recv(cqe->res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE)) {
					e = sqe();
					io_uring_prep_multishot_accept(e, ln, NULL, NULL, 0);
					io_uring_sqe_set_data64(e, OP_ACCEPT);
				}
				break;
			case OP_RECV: on_recv(fd, cqe); break;
			case OP_SEND: on_send(fd, cqe); break;
			}
		}
		io_uring_cq_advance(&ring, seen);
		/* The batch's replies: one send each, submitted by the next wait. */
		for (int i = 0; i < ndirty; i++) {
			int fd = dirty[i];
			conn *c = conns[fd];
			if (!c) continue;
			c->dirty = 0;
			if (!c->sending && c->out.len) submit_send(fd, c);
			else if (c->closing && !c->sending && c->recving) shutdown(fd, SHUT_RDWR);
			settle(fd);
		}
		ndirty = 0;
	}
}
