/* worker.h — media worker threads. Each runs a GMainLoop on a GMainContext of its own and
 * owns the libnice agents, DTLS and SRTP state of the participants assigned to it, so their
 * per-packet work needs no lock. Work crosses threads only by dc_worker_invoke and
 * dc_worker_post. */
#ifndef DC_WORKER_H
#define DC_WORKER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct dc_worker dc_worker;
typedef struct dc_workers dc_workers;

dc_workers *dc_workers_new(unsigned count); /* 0 = one per core */
void dc_workers_free(dc_workers *ws);       /* stops and joins every thread */
unsigned dc_workers_count(const dc_workers *ws);
/* The next worker in turn, for a new participant. */
dc_worker *dc_workers_pick(dc_workers *ws);

GMainContext *dc_worker_context(dc_worker *w);
unsigned dc_worker_index(const dc_worker *w);
/* Runs fn(data) on w's thread; at once if the caller is that thread. */
void dc_worker_invoke(dc_worker *w, GSourceFunc fn, gpointer data, GDestroyNotify destroy);
gboolean dc_worker_is_current(dc_worker *w);

/* The media hand-off: msg (len ≤ DC_WORKER_MSG_MAX bytes) is copied into w's queue and
 * fn(copy) runs on w's thread, in order with what dc_worker_invoke handed it; at once if the
 * caller is that thread. No allocation: the queue's two arrays grow to the most that ever
 * waited and are reused. Never blocks: when DC_WORKER_QUEUE_MAX jobs wait already it refuses
 * (false, counted in dc_worker_refused) and the caller still owns what msg refers to: late
 * media is lost media, as on a congested link. Calls (dc_worker_invoke) are never refused. A
 * post accepted is always run, at dc_workers_free if not before, so its message can hold
 * references that fn releases. */
#define DC_WORKER_MSG_MAX 64
#define DC_WORKER_QUEUE_MAX 8192
bool dc_worker_post(dc_worker *w, void (*fn)(void *msg), const void *msg, size_t len);
guint64 dc_worker_refused(dc_worker *w);

/* Warming ahead. A thousand participants' slots, transports and SRTP contexts do not stay in
 * cache from one 20 ms mix to the next, and a packet's work follows pointers through them,
 * each a miss waited for in turn. A post or a watch may name ahead(data, stage): the worker
 * calls it for stage 0 .. DC_WORKER_AHEAD_STAGES - 1 a few jobs (or ready descriptors)
 * before the job's own turn, one stage a job later than the one before, so that each stage
 * can prefetch what the last one brought in while other jobs run. ahead runs on the worker,
 * between jobs, and only reads what its job would read at that moment (re-found from the
 * data each stage: an earlier job may have changed it). */
#define DC_WORKER_AHEAD_STAGES 4
bool dc_worker_post_ahead(dc_worker *w, void (*fn)(void *msg), void (*ahead)(const void *msg, unsigned stage),
                          const void *msg, size_t len);

/* A pass is a batch of the worker's jobs (posts and calls), of its ready descriptors, or of
 * one interval's ticks (dc_worker_every), run together. On the worker, within a pass,
 * fn(data) is put to run once at the pass's end, after its last job (asked again with the
 * same fn and data, still once): true. False outside a pass (on another thread, in a GLib
 * source of the worker's, in a job run where it was posted from outside a pass): the caller
 * does its work now. What sends datagrams holds them to the pass's end this way and sends each
 * peer's together (bridge/outbox.h). */
bool dc_worker_at_pass_end(void (*fn)(gpointer data), gpointer data);

/* Descriptors watched for reading through one epoll set a worker, polled as one descriptor:
 * a GSource a socket would put every socket in every poll and every pass of GLib over its
 * sources, at each wake-up of the worker's loop (worker.c). */
typedef struct dc_worker_watch dc_worker_watch;
/* The worker only: ready(data) runs on it while fd is readable (level-triggered). NULL when
 * the descriptor cannot be watched; the caller keeps to its own way then. */
dc_worker_watch *dc_worker_watch_fd(dc_worker *w, int fd, void (*ready)(gpointer data), gpointer data);
/* The same with ahead(data, stage) called before ready(data) when several are ready at once
 * (see warming ahead above). */
dc_worker_watch *dc_worker_watch_fd_ahead(dc_worker *w, int fd, void (*ready)(gpointer data),
                                          void (*ahead)(gpointer data, unsigned stage), gpointer data);
/* A datagram socket whose reads the worker gathers. When two or more such sockets are ready
 * at once and the thread has an io_uring (uring.h), the worker reads one datagram (or one UDP
 * GRO run) of each in one system call, where each would have made its own, and hands it to
 * got(data, d); drain(data) reads what else is waiting itself and returns how many datagrams
 * it read. drain runs instead of got where the worker read nothing (one socket ready, no
 * ring), and after got for a socket that had more waiting the last time it was read (learnt
 * from drain finding some, or from its being ready again at the next wake-up): a camera's
 * burst is read whole, a talker's lone packet costs no second read. What got is handed is the
 * worker's until got returns. With ahead as dc_worker_watch_fd_ahead. */
typedef struct {
  uint8_t *buf; /* len bytes read: one datagram, or a GRO run (msg's control says so) */
  size_t len;
  struct msghdr *msg; /* the source address, the control messages and the flags as recvmsg gave them */
} dc_worker_datagram;
dc_worker_watch *dc_worker_watch_datagrams(dc_worker *w, int fd, unsigned (*drain)(gpointer data),
                                           void (*got)(gpointer data, const dc_worker_datagram *d),
                                           void (*ahead)(gpointer data, unsigned stage), gpointer data);
/* Reads the worker made for datagram watches through its ring, and the system calls they took
 * (all workers); whether workers read that way (the default, where the kernel has a ring), for
 * the tests and the bench. */
typedef struct {
  uint64_t calls, reads;
} dc_worker_ring_reads;
dc_worker_ring_reads dc_workers_ring_reads(void);
void dc_workers_read_by_ring(bool use);
/* The worker only, before fd is closed; from within any ready callback too, its own as well:
 * no call follows. */
void dc_worker_unwatch(dc_worker_watch *watch);

/* Housekeeping every interval_ms for many participants from one timer per interval (a timer
 * each is one more source for every pass of the loop). The worker only: fn(data) runs on it
 * every interval_ms, all of one interval together, until it returns G_SOURCE_REMOVE (the
 * tick is gone then: forget it) or is stopped; then destroy(data) (optional) runs on the
 * worker. */
typedef struct dc_worker_tick dc_worker_tick;
dc_worker_tick *dc_worker_every(dc_worker *w, guint interval_ms, GSourceFunc fn, gpointer data, GDestroyNotify destroy);
/* The worker only; from within any tick's fn too: fn is not called again. */
void dc_worker_stop_tick(dc_worker_tick *tick);

#endif
