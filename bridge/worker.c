/* worker.c — media worker threads; see worker.h.
 *
 * Work handed to a worker goes into its mailbox: a list under a mutex, drained by one GSource
 * of the worker's. g_main_context_invoke_full, which this replaced, made a GSource for every
 * call, attached it under the context's lock and woke the thread through its eventfd: for
 * every video packet to every receiver, and every mix packet. The mailbox wakes the thread
 * only when it goes from empty to not, and a wake-up drains all that came meanwhile. Media
 * comes as posts: a small message copied into the mailbox's array, so a packet to a receiver
 * on another worker costs no allocation, and a mailbox that holds DC_WORKER_QUEUE_MAX refuses
 * more rather than grow while its worker is behind.
 *
 * GLib's loop walks every source it has on every pass, and polls every descriptor of theirs:
 * with a socket source and two timers a participant, at 300 participants that walk was a fifth
 * of the bridge's time. So the sockets transports read themselves are watched through one
 * epoll set a worker (one descriptor in the poll), and housekeeping that every participant
 * needs every so often runs from one timer an interval (dc_worker_every).
 *
 * A wake-up finds many sockets ready, each with a packet or two (a talker's every 20 ms, a
 * camera's frame back to back), and reading each by its own system call cost the kernel's
 * entry and exit for every one. Where two or more datagram sockets are ready, the worker reads
 * one datagram of each through its io_uring in one call (uring.h) and the socket's owner
 * drains the ones that had more: learnt from a drain that found some, or from the socket being
 * ready again within 2 ms of its read. */
#include "bridge/worker.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bridge/uring.h"

/* A job is a call (dc_worker_invoke: data the caller allocated) or a post (dc_worker_post:
 * the message copied in, so a packet handed to another worker costs no allocation). */
typedef struct {
  void (*post)(void *msg); /* NULL: a call */
  void (*ahead)(const void *msg, unsigned stage); /* a post's warming ahead, or NULL */
  union {
    struct {
      GSourceFunc fn;
      gpointer data;
      GDestroyNotify destroy;
    } call;
    max_align_t align;
    uint8_t msg[DC_WORKER_MSG_MAX];
  } u;
} job;

typedef struct {
  GSource source;
  struct dc_worker *w;
} mailbox_source;

struct dc_worker {
  unsigned index;
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  GMutex lock;
  GArray *jobs;    /* job: handed in, not yet run (under lock) */
  GArray *running; /* job: the batch being run (the worker's alone) */
  gint pending;    /* jobs->len > 0, readable without the lock */
  guint64 refused; /* posts refused: the queue held DC_WORKER_QUEUE_MAX jobs (under lock) */
  GSource *mailbox;
  int epoll_fd;          /* the watched descriptors (dc_worker_watch_fd); -1 if none could be made */
  GSource *watches;      /* polls epoll_fd */
  GPtrArray *unwatched;  /* dc_worker_watch: unwatched while the watches ran, freed after */
  bool running_watches;
  gint64 watch_pass_us;     /* when the pass over ready descriptors began (the loop's time) */
  struct ring_reads *reads; /* reads for datagram watches through a ring; NULL until needed or none */
  bool ring_tried;
  unsigned pass_depth;  /* in a pass (dc_worker_at_pass_end): its batch is running */
  GArray *pass_end;     /* pass_end_call: to run when the pass ends */
  GArray *pass_ending;  /* ... the ones running now (a call may ask for the next pass) */
  GPtrArray *tick_groups; /* tick_group*, one a distinct interval */
};

typedef struct {
  dc_worker *w;
  guint interval_ms;
  GSource *timer;
  GPtrArray *ticks; /* dc_worker_tick*, in the order added */
  bool running;
  bool stopped_some; /* while running: entries to drop after */
} tick_group;

struct dc_worker_tick {
  tick_group *group;
  GSourceFunc fn; /* NULL once stopped */
  gpointer data;
  GDestroyNotify destroy;
};

typedef struct {
  void (*fn)(gpointer data);
  gpointer data;
} pass_end_call;

struct dc_worker_watch {
  dc_worker *w;
  int fd;
  void (*ready)(gpointer data); /* NULL once unwatched, and for a datagram watch */
  void (*ahead)(gpointer data, unsigned stage);
  gpointer data;
  /* a datagram watch's (dc_worker_watch_datagrams); drain NULL once unwatched */
  unsigned (*drain)(gpointer data);
  void (*got)(gpointer data, const dc_worker_datagram *d);
  bool drain_after_got; /* it had more waiting when last read */
  gint64 last_read_us;  /* when the ring last read it (the pass's time) */
};

static bool watched(const dc_worker_watch *watch) { return watch->ready || watch->drain; }

/* A pass's reads through the worker's ring: one a ready datagram watch, into its own buffer
 * (a GRO run can be a whole UDP datagram's 64 KiB; pages are touched only as far as reads
 * fill them). */
#define READ_MAX 65536
#define NOT_READ INT_MIN

typedef struct {
  int result; /* what recvmsg returned, -errno, or NOT_READ */
  struct msghdr msg;
  struct iovec iov;
  struct sockaddr_storage from;
  uint8_t buf[READ_MAX];
  union { /* last: clang takes CMSG_SPACE for a variable size */
    char buf[CMSG_SPACE(sizeof(int))]; /* UDP_GRO's segment size */
    struct cmsghdr align;
  } control;
} read_slot;

struct ring_reads {
  dc_uring *ring;
  read_slot slots[]; /* WATCH_BATCH */
};

static atomic_bool ring_reads_off;
static atomic_uint_fast64_t ring_read_calls, ring_read_count;

void dc_workers_read_by_ring(bool use) { atomic_store(&ring_reads_off, !use); }

dc_worker_ring_reads dc_workers_ring_reads(void) {
  return (dc_worker_ring_reads){atomic_load(&ring_read_calls), atomic_load(&ring_read_count)};
}

/* How many jobs before its own a job's stage k of warming ahead runs: each stage one job
 * after the one before, which at 2-5 µs a job is far more than a miss takes. */
static unsigned ahead_distance(unsigned stage) { return DC_WORKER_AHEAD_STAGES - stage; }

static void pass_begin(dc_worker *w) { w->pass_depth++; }

static void pass_end(dc_worker *w) {
  if (--w->pass_depth)
    return;
  GArray *calls = w->pass_end; /* the calls run outside the pass: what they ask for runs now */
  w->pass_end = w->pass_ending;
  w->pass_ending = calls;
  for (guint i = 0; i < calls->len; i++)
    g_array_index(calls, pass_end_call, i).fn(g_array_index(calls, pass_end_call, i).data);
  g_array_set_size(calls, 0);
}

#define WATCH_BATCH 64

static struct ring_reads *reads_for(dc_worker *w) {
  if (!w->ring_tried) {
    w->ring_tried = true;
    dc_uring *r = dc_uring_new(WATCH_BATCH);
    if (r) {
      w->reads = g_malloc(sizeof *w->reads + WATCH_BATCH * sizeof(read_slot));
      w->reads->ring = r;
    }
  }
  return w->reads;
}

static void read_done(uint64_t user_data, int result, void *data) {
  struct ring_reads *rr = data;
  rr->slots[user_data].result = result;
}

/* One datagram of each ready datagram watch, read in one system call, where two or more are
 * ready and the thread has a ring; the others' slots say NOT_READ. */
static struct ring_reads *read_ready(dc_worker *w, const struct epoll_event *ev, int n) {
  int datagram_watches = 0;
  for (int i = 0; i < n && datagram_watches < 2; i++)
    datagram_watches += ((dc_worker_watch *)ev[i].data.ptr)->drain != NULL;
  if (datagram_watches < 2 || atomic_load_explicit(&ring_reads_off, memory_order_relaxed))
    return NULL;
  struct ring_reads *rr = reads_for(w);
  if (!rr)
    return NULL;
  unsigned queued = 0;
  for (int i = 0; i < n; i++) {
    read_slot *slot = &rr->slots[i];
    slot->result = NOT_READ;
    const dc_worker_watch *watch = ev[i].data.ptr;
    if (!watch->drain)
      continue;
    slot->iov = (struct iovec){slot->buf, sizeof slot->buf};
    slot->msg = (struct msghdr){.msg_name = &slot->from, .msg_namelen = sizeof slot->from, .msg_iov = &slot->iov,
                                .msg_iovlen = 1, .msg_control = slot->control.buf,
                                .msg_controllen = sizeof slot->control.buf};
    dc_uring_queue_recvmsg(rr->ring, watch->fd, &slot->msg, (uint64_t)i);
    queued++;
  }
  unsigned calls = dc_uring_run(rr->ring, read_done, rr);
  atomic_fetch_add_explicit(&ring_read_calls, calls, memory_order_relaxed);
  atomic_fetch_add_explicit(&ring_read_count, queued, memory_order_relaxed);
  return rr;
}

/* Ready again this soon after the ring read a datagram of it, a socket had more waiting then:
 * a camera's frame comes in back to back, a talker's packets 20 ms apart (the loop's time,
 * cached for the pass, moves only between passes: a busy worker's next pass is a pass later). */
#define READY_AGAIN_US 2000

/* A ready datagram watch's turn: what the ring read for it, and then the rest if it had more
 * waiting last time or is ready again straight after its last read; or all by drain. */
static void run_datagram_watch(dc_worker *w, dc_worker_watch *watch, read_slot *slot) {
  if (!slot || slot->result == NOT_READ) {
    watch->drain_after_got = watch->drain(watch->data) > 1;
    return;
  }
  if (slot->result < 0)
    return; /* nothing there after all, or an ICMP error of an earlier send: wait again */
  bool ready_again = w->watch_pass_us - watch->last_read_us < READY_AGAIN_US;
  watch->last_read_us = w->watch_pass_us;
  dc_worker_datagram d = {slot->buf, (size_t)slot->result, &slot->msg};
  watch->got(watch->data, &d);
  if (watch->drain && (watch->drain_after_got || ready_again)) /* still watched: got may have closed it */
    watch->drain_after_got = watch->drain(watch->data) > 0;
}

/* Ready descriptors, whatever their number, in one poll of epoll_fd: the callbacks of those
 * ready now. The source may recurse so that GLib leaves its descriptor in the poll set while it
 * runs (taking it out and back writes the loop's eventfd). */
static gboolean watches_dispatch(GSource *s, GSourceFunc unused, gpointer data) {
  (void)s, (void)unused;
  dc_worker *w = data;
  struct epoll_event ev[WATCH_BATCH];
  int n = epoll_wait(w->epoll_fd, ev, WATCH_BATCH, 0);
  w->running_watches = true;
  w->watch_pass_us = g_source_get_time(s);
  pass_begin(w);
  struct ring_reads *rr = read_ready(w, ev, n);
  /* The watch itself is as cold as what it leads to: it is fetched a job before its stage 0. */
  for (int i = -(int)DC_WORKER_AHEAD_STAGES - 1; i < n; i++) {
    int first = i + (int)DC_WORKER_AHEAD_STAGES + 1;
    if (first >= 0 && first < n)
      __builtin_prefetch(ev[first].data.ptr);
    for (unsigned k = 0; k < DC_WORKER_AHEAD_STAGES; k++) {
      int j = i + (int)ahead_distance(k);
      dc_worker_watch *later = j >= 0 && j < n ? ev[j].data.ptr : NULL;
      if (later && watched(later) && later->ahead) /* still watched: its data is still there */
        later->ahead(later->data, k);
    }
    if (i < 0)
      continue;
    dc_worker_watch *watch = ev[i].data.ptr;
    if (watch->ready)
      watch->ready(watch->data);
    else if (watch->drain)
      run_datagram_watch(w, watch, rr ? &rr->slots[i] : NULL);
  }
  pass_end(w);
  w->running_watches = false;
  g_ptr_array_set_size(w->unwatched, 0);
  return G_SOURCE_CONTINUE;
}

static gboolean watches_callback(gpointer data) {
  (void)data;
  return G_SOURCE_CONTINUE; /* the dispatch above does the work */
}

static GSourceFuncs watches_funcs = {.dispatch = watches_dispatch};

dc_worker_watch *dc_worker_watch_fd(dc_worker *w, int fd, void (*ready)(gpointer data), gpointer data) {
  return dc_worker_watch_fd_ahead(w, fd, ready, NULL, data);
}

dc_worker_watch *dc_worker_watch_fd_ahead(dc_worker *w, int fd, void (*ready)(gpointer data),
                                          void (*ahead)(gpointer data, unsigned stage), gpointer data) {
  if (w->epoll_fd < 0)
    return NULL;
  dc_worker_watch *watch = g_new0(dc_worker_watch, 1);
  *watch = (dc_worker_watch){.w = w, .fd = fd, .ready = ready, .ahead = ahead, .data = data};
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = watch};
  if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    g_free(watch);
    return NULL;
  }
  return watch;
}

dc_worker_watch *dc_worker_watch_datagrams(dc_worker *w, int fd, unsigned (*drain)(gpointer data),
                                           void (*got)(gpointer data, const dc_worker_datagram *d),
                                           void (*ahead)(gpointer data, unsigned stage), gpointer data) {
  if (w->epoll_fd < 0)
    return NULL;
  dc_worker_watch *watch = g_new0(dc_worker_watch, 1);
  *watch = (dc_worker_watch){.w = w, .fd = fd, .ahead = ahead, .data = data, .drain = drain, .got = got,
                             .drain_after_got = true, .last_read_us = G_MININT64 / 2};
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = watch};
  if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    g_free(watch);
    return NULL;
  }
  return watch;
}

static void tick_free(dc_worker_tick *tick) {
  if (tick->destroy)
    tick->destroy(tick->data);
  g_free(tick);
}

/* One interval's ticks are a pass: what they send (a receiver report each a second, probes)
 * goes out together at its end, as a pass of jobs does, rather than a system call each. */
static gboolean run_ticks(gpointer data) {
  tick_group *g = data;
  g->running = true;
  pass_begin(g->w);
  for (guint i = 0; i < g->ticks->len; i++) { /* ticks added meanwhile run too, from the end */
    dc_worker_tick *tick = g_ptr_array_index(g->ticks, i);
    if (tick->fn && !tick->fn(tick->data)) {
      tick->fn = NULL;
      g->stopped_some = true;
    }
  }
  pass_end(g->w);
  g->running = false;
  if (g->stopped_some) {
    g->stopped_some = false;
    for (guint i = g->ticks->len; i-- > 0;) {
      dc_worker_tick *tick = g_ptr_array_index(g->ticks, i);
      if (!tick->fn) {
        g_ptr_array_remove_index(g->ticks, i);
        tick_free(tick);
      }
    }
  }
  return G_SOURCE_CONTINUE;
}

dc_worker_tick *dc_worker_every(dc_worker *w, guint interval_ms, GSourceFunc fn, gpointer data, GDestroyNotify destroy) {
  tick_group *g = NULL;
  for (guint i = 0; i < w->tick_groups->len && !g; i++)
    if (((tick_group *)g_ptr_array_index(w->tick_groups, i))->interval_ms == interval_ms)
      g = g_ptr_array_index(w->tick_groups, i);
  if (!g) {
    g = g_new0(tick_group, 1);
    g->w = w;
    g->interval_ms = interval_ms;
    g->ticks = g_ptr_array_new();
    g->timer = g_timeout_source_new(interval_ms);
    g_source_set_callback(g->timer, run_ticks, g, NULL);
    g_source_attach(g->timer, w->ctx);
    g_ptr_array_add(w->tick_groups, g);
  }
  dc_worker_tick *tick = g_new0(dc_worker_tick, 1);
  *tick = (dc_worker_tick){g, fn, data, destroy};
  g_ptr_array_add(g->ticks, tick);
  return tick;
}

void dc_worker_stop_tick(dc_worker_tick *tick) {
  tick_group *g = tick->group;
  if (!tick->fn)
    return; /* stopped already, to be dropped after the group's run */
  tick->fn = NULL;
  if (g->running) {
    g->stopped_some = true;
    return;
  }
  g_ptr_array_remove(g->ticks, tick);
  tick_free(tick);
}

void dc_worker_unwatch(dc_worker_watch *watch) {
  dc_worker *w = watch->w;
  epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->ready = NULL;
  watch->drain = NULL;
  if (w->running_watches) /* a later event of this batch may name it */
    g_ptr_array_add(w->unwatched, watch);
  else
    g_free(watch);
}

static gboolean mailbox_ready(GSource *s, gint *timeout) {
  if (timeout)
    *timeout = -1;
  return g_atomic_int_get(&((mailbox_source *)s)->w->pending) != 0;
}

static gboolean mailbox_check(GSource *s) { return mailbox_ready(s, NULL); }

static void run_job(job *j) {
  if (j->post) {
    j->post(j->u.msg);
    return;
  }
  while (j->u.call.fn(j->u.call.data)) /* G_SOURCE_CONTINUE: again, as g_main_context_invoke did */
    ;
  if (j->u.call.destroy)
    j->u.call.destroy(j->u.call.data);
}

static gboolean mailbox_dispatch(GSource *s, GSourceFunc unused, gpointer unused_data) {
  (void)unused, (void)unused_data;
  struct dc_worker *w = ((mailbox_source *)s)->w;
  g_mutex_lock(&w->lock);
  GArray *batch = w->jobs;
  w->jobs = w->running;
  w->running = batch;
  g_atomic_int_set(&w->pending, 0);
  g_mutex_unlock(&w->lock);
  /* Jobs posted from here on run at once (dc_worker_post on its own worker) or go to the
   * other array: batch stays as it is while it runs. */
  int n = (int)batch->len;
  pass_begin(w);
  for (int i = -(int)DC_WORKER_AHEAD_STAGES; i < n; i++) {
    for (unsigned k = 0; k < DC_WORKER_AHEAD_STAGES; k++) {
      int j = i + (int)ahead_distance(k);
      job *later = j >= 0 && j < n ? &g_array_index(batch, job, j) : NULL;
      if (later && later->post && later->ahead)
        later->ahead(later->u.msg, k);
    }
    if (i >= 0)
      run_job(&g_array_index(batch, job, i));
  }
  g_array_set_size(batch, 0);
  pass_end(w);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs mailbox_funcs = {.prepare = mailbox_ready, .check = mailbox_check, .dispatch = mailbox_dispatch};

struct dc_workers {
  unsigned n;
  gint next;
  dc_worker *w;
};

/* The worker whose thread this is: whether a hand-off is needed is asked for every packet to
 * every receiver, and g_main_context_is_owner takes the context's lock to answer. */
static __thread dc_worker *this_worker;

/* On a worker's thread only its own context is owned; elsewhere (the main thread, the mix
 * clock, a teardown that runs what is left) the context says. */
static bool is_current(dc_worker *w) {
  return this_worker ? this_worker == w : g_main_context_is_owner(w->ctx);
}

static gpointer run(gpointer data) {
  dc_worker *w = data;
  this_worker = w;
  g_main_context_push_thread_default(w->ctx);
  g_main_loop_run(w->loop);
  g_main_context_pop_thread_default(w->ctx);
  return NULL;
}

dc_workers *dc_workers_new(unsigned count) {
  dc_workers *ws = g_new0(dc_workers, 1);
  ws->n = count ? count : g_get_num_processors();
  ws->w = g_new0(dc_worker, ws->n);
  for (unsigned i = 0; i < ws->n; i++) {
    dc_worker *w = &ws->w[i];
    w->index = i;
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    g_mutex_init(&w->lock);
    w->jobs = g_array_sized_new(FALSE, FALSE, sizeof(job), 256);
    w->running = g_array_sized_new(FALSE, FALSE, sizeof(job), 256);
    w->mailbox = g_source_new(&mailbox_funcs, sizeof(mailbox_source));
    ((mailbox_source *)w->mailbox)->w = w;
    g_source_set_priority(w->mailbox, G_PRIORITY_DEFAULT);
    g_source_attach(w->mailbox, w->ctx);
    w->unwatched = g_ptr_array_new_with_free_func(g_free);
    w->pass_end = g_array_new(FALSE, FALSE, sizeof(pass_end_call));
    w->pass_ending = g_array_new(FALSE, FALSE, sizeof(pass_end_call));
    w->tick_groups = g_ptr_array_new();
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epoll_fd >= 0) {
      w->watches = g_source_new(&watches_funcs, sizeof(GSource));
      g_source_set_callback(w->watches, watches_callback, w, NULL);
      g_source_add_unix_fd(w->watches, w->epoll_fd, G_IO_IN);
      g_source_set_can_recurse(w->watches, TRUE);
      g_source_attach(w->watches, w->ctx);
    }
    char name[16];
    g_snprintf(name, sizeof name, "dc-media-%u", i);
    w->thread = g_thread_new(name, run, w);
  }
  return ws;
}

static gboolean quit(gpointer data) {
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

void dc_workers_free(dc_workers *ws) {
  if (!ws)
    return;
  /* Every thread stops before any worker's mailbox goes: a worker still running hands packets
   * to the others (a delivery, a close), and one freed while another still ran was written
   * after its end. */
  for (unsigned i = 0; i < ws->n; i++) {
    g_main_context_invoke(ws->w[i].ctx, quit, ws->w[i].loop);
    g_thread_join(ws->w[i].thread);
  }
  /* Then what is still pending runs here (frees of agents handed to the threads), until a
   * pass finds nothing: running one worker's work may hand some to another. */
  for (bool ran = true; ran;) {
    ran = false;
    for (unsigned i = 0; i < ws->n; i++)
      while (g_main_context_iteration(ws->w[i].ctx, FALSE))
        ran = true;
  }
  for (unsigned i = 0; i < ws->n; i++) {
    dc_worker *w = &ws->w[i];
    g_source_destroy(w->mailbox);
    g_source_unref(w->mailbox);
    if (w->watches) {
      g_source_destroy(w->watches);
      g_source_unref(w->watches);
      close(w->epoll_fd);
    }
    g_ptr_array_unref(w->unwatched);
    if (w->reads)
      dc_uring_free(w->reads->ring);
    g_free(w->reads);
    g_array_unref(w->pass_end);
    g_array_unref(w->pass_ending);
    for (guint j = 0; j < w->tick_groups->len; j++) { /* ticks never stopped: their data goes */
      tick_group *g = g_ptr_array_index(w->tick_groups, j);
      g_source_destroy(g->timer);
      g_source_unref(g->timer);
      for (guint k = 0; k < g->ticks->len; k++)
        tick_free(g_ptr_array_index(g->ticks, k));
      g_ptr_array_unref(g->ticks);
      g_free(g);
    }
    g_ptr_array_unref(w->tick_groups);
    for (guint j = 0; j < w->jobs->len; j++) { /* none now; as a destroyed source's, were there one */
      job *jb = &g_array_index(w->jobs, job, j);
      if (jb->post)
        jb->post(jb->u.msg); /* a post's message is released by running it */
      else if (jb->u.call.destroy)
        jb->u.call.destroy(jb->u.call.data);
    }
    g_array_unref(w->jobs);
    g_array_unref(w->running);
    g_mutex_clear(&w->lock);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->ctx);
  }
  g_free(ws->w);
  g_free(ws);
}

unsigned dc_workers_count(const dc_workers *ws) { return ws->n; }

dc_worker *dc_workers_pick(dc_workers *ws) {
  unsigned i = (unsigned)g_atomic_int_add(&ws->next, 1) % ws->n;
  return &ws->w[i];
}

GMainContext *dc_worker_context(dc_worker *w) { return w->ctx; }
unsigned dc_worker_index(const dc_worker *w) { return w->index; }

/* Appends j unless it is a post and the queue is full; wakes the worker when the queue was
 * empty (else a wake-up is on its way, or the batch runs now). */
static bool enqueue(dc_worker *w, const job *j) {
  g_mutex_lock(&w->lock);
  if (j->post && w->jobs->len >= DC_WORKER_QUEUE_MAX) {
    w->refused++;
    g_mutex_unlock(&w->lock);
    return false;
  }
  g_array_append_vals(w->jobs, j, 1);
  bool wake = w->jobs->len == 1;
  if (wake)
    g_atomic_int_set(&w->pending, 1);
  g_mutex_unlock(&w->lock);
  if (wake)
    g_main_context_wakeup(w->ctx);
  return true;
}

void dc_worker_invoke(dc_worker *w, GSourceFunc fn, gpointer data, GDestroyNotify destroy) {
  job j = {.post = NULL, .u.call = {fn, data, destroy}};
  if (is_current(w))
    run_job(&j);
  else
    enqueue(w, &j);
}

bool dc_worker_post(dc_worker *w, void (*fn)(void *msg), const void *msg, size_t len) {
  return dc_worker_post_ahead(w, fn, NULL, msg, len);
}

bool dc_worker_post_ahead(dc_worker *w, void (*fn)(void *msg), void (*ahead)(const void *msg, unsigned stage),
                          const void *msg, size_t len) {
  g_return_val_if_fail(len <= DC_WORKER_MSG_MAX, false);
  job j;
  j.post = fn;
  j.ahead = ahead;
  memcpy(j.u.msg, msg, len);
  if (!is_current(w))
    return enqueue(w, &j);
  run_job(&j);
  return true;
}

guint64 dc_worker_refused(dc_worker *w) {
  g_mutex_lock(&w->lock);
  guint64 n = w->refused;
  g_mutex_unlock(&w->lock);
  return n;
}

gboolean dc_worker_is_current(dc_worker *w) { return is_current(w); }

bool dc_worker_at_pass_end(void (*fn)(gpointer data), gpointer data) {
  dc_worker *w = this_worker;
  if (!w || !w->pass_depth)
    return false;
  for (guint i = 0; i < w->pass_end->len; i++) {
    const pass_end_call *c = &g_array_index(w->pass_end, pass_end_call, i);
    if (c->fn == fn && c->data == data)
      return true;
  }
  pass_end_call c = {fn, data};
  g_array_append_val(w->pass_end, c);
  return true;
}
