/* uring.h — a thread's io_uring for handing the kernel a batch of socket sends or reads in one
 * system call (Linux 6.0 and later), by raw system calls: liburing is not among the project's
 * packages, and a batch of sends or reads needs only the submission and completion rings.
 *
 * Why: every system call here pays the kernel's entry and exit, which on the virtual machines
 * this project runs on is a third or more of a small datagram's send (tests/bench/bench_sendpath:
 * 500 sockets sending one 120-byte datagram each, 3.9 µs of CPU a datagram by sendto, 2.0 µs as
 * one io_uring batch). A worker's pass sends to many peers, each on its own socket, so neither
 * sendmmsg nor GSO (one socket each) can gather those sends; a ring can (bridge/outbox.h).
 *
 * What it does: sendmsg and recvmsg requests, each with MSG_DONTWAIT, so that the kernel
 * completes every one while the batch is submitted (a full socket buffer or an empty socket
 * completes with -EAGAIN; since 5.19 the kernel never parks such a request to retry it later),
 * and dc_uring_run returns with all of them done. The worker reads its ready sockets this way
 * (worker.h, datagram watches). Left out: registered files and buffers, multishot receives,
 * polling threads.
 *
 * Threads: a ring is its creating thread's own (IORING_SETUP_SINGLE_ISSUER where the kernel
 * knows it). */
#ifndef DC_URING_H
#define DC_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct dc_uring dc_uring;

/* A ring taking up to `entries` requests a batch; NULL, with errno set, where the kernel has
 * none or refuses it (ENOSYS; EPERM under a seccomp filter or kernel.io_uring_disabled). */
dc_uring *dc_uring_new(unsigned entries);
void dc_uring_free(dc_uring *r);

/* How many more requests this batch takes. */
unsigned dc_uring_room(const dc_uring *r);

/* Queues sendmsg(fd, m, MSG_DONTWAIT | MSG_NOSIGNAL); m and what it points to must stay as
 * they are until dc_uring_run returns. False when the batch is full: run it first. */
bool dc_uring_queue_sendmsg(dc_uring *r, int fd, const struct msghdr *m, uint64_t user_data);

/* Queues recvmsg(fd, m, MSG_DONTWAIT): an empty socket completes with -EAGAIN. */
bool dc_uring_queue_recvmsg(dc_uring *r, int fd, struct msghdr *m, uint64_t user_data);

/* Submits what is queued and waits until all of it has completed, calling done(user_data,
 * result, data) for each: what sendmsg returned, or -errno. A request the kernel never took
 * (io_uring_enter failing outright) completes with -ECANCELED: nothing of it was sent.
 * Returns the system calls it made. */
unsigned dc_uring_run(dc_uring *r, void (*done)(uint64_t user_data, int result, void *data), void *data);

#endif
