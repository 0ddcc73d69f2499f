/* worker: work handed to a media worker runs there, once, in the order handed in, from any
 * number of threads at once; at once when the worker hands work to itself; and nothing is
 * lost or run twice when the workers stop. Posts (the media hand-off) likewise, and a full
 * queue refuses and counts them without waiting for the worker. */
#include "bridge/worker.h"

#include <errno.h>

#include "bridge/uring.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  dc_worker *w;
  GThread *ran_on; /* set by the first job */
  gint ran, destroyed, order_errors;
  int next_from[8]; /* the worker's: the next sequence number expected from each producer */
} state;

typedef struct {
  state *st;
  int producer, seq;
  int again; /* times to ask to be run again */
} job_data;

static gboolean job(gpointer data) {
  job_data *j = data;
  state *st = j->st;
  if (j->again > 0) {
    j->again--;
    return G_SOURCE_CONTINUE;
  }
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->order_errors); /* not on its worker */
  if (st->next_from[j->producer] != j->seq)
    g_atomic_int_inc(&st->order_errors);
  st->next_from[j->producer] = j->seq + 1;
  g_atomic_int_inc(&st->ran);
  return G_SOURCE_REMOVE;
}

static void job_free(gpointer data) {
  job_data *j = data;
  g_atomic_int_inc(&j->st->destroyed);
  g_free(j);
}

enum { PRODUCERS = 4, JOBS = 50000 };

typedef struct {
  state *st;
  int producer;
} producer_arg;

static gpointer produce(gpointer data) {
  producer_arg *a = data;
  for (int i = 0; i < JOBS; i++) {
    job_data *j = g_new0(job_data, 1);
    *j = (job_data){a->st, a->producer, i, i % 1000 == 0 ? 2 : 0};
    dc_worker_invoke(a->st->w, job, j, job_free);
  }
  return NULL;
}

/* PRODUCERS threads run producer at once, handing st's worker JOBS each; then every one has
 * run on the worker, once, in its producer's order. */
static void produce_and_check(state *st, GThreadFunc producer) {
  GThread *threads[PRODUCERS];
  producer_arg args[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    args[p] = (producer_arg){st, p};
    threads[p] = g_thread_new("producer", producer, &args[p]);
  }
  for (int p = 0; p < PRODUCERS; p++)
    g_thread_join(threads[p]);
  gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&st->ran) < PRODUCERS * JOBS && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_test_message("%d of %d ran, %d freed, %d out of order or off their worker", g_atomic_int_get(&st->ran),
                 PRODUCERS * JOBS, g_atomic_int_get(&st->destroyed), g_atomic_int_get(&st->order_errors));
  g_assert_cmpint(g_atomic_int_get(&st->ran), ==, PRODUCERS * JOBS);
  g_assert_cmpint(g_atomic_int_get(&st->order_errors), ==, 0);
}

static void test_many_threads_in_order(void) {
  dc_workers *ws = dc_workers_new(2);
  state st = {.w = dc_workers_pick(ws)};
  produce_and_check(&st, produce);
  dc_workers_free(ws);
  g_assert_cmpint(st.destroyed, ==, PRODUCERS * JOBS);
}

/* A worker handing work to itself runs it at once (the bridge relies on it: a close from the
 * worker's own callback must not outlive the callback). */
typedef struct {
  dc_worker *w;
  gint inner_ran;
  bool inner_ran_first;
} self_state;

static gboolean inner(gpointer data) {
  g_atomic_int_set(&((self_state *)data)->inner_ran, 1);
  return G_SOURCE_REMOVE;
}

static gboolean outer(gpointer data) {
  self_state *s = data;
  dc_worker_invoke(s->w, inner, s, NULL);
  s->inner_ran_first = g_atomic_int_get(&s->inner_ran);
  return G_SOURCE_REMOVE;
}

static void test_self_runs_at_once(void) {
  dc_workers *ws = dc_workers_new(1);
  self_state s = {.w = dc_workers_pick(ws)};
  dc_worker_invoke(s.w, outer, &s, NULL);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!g_atomic_int_get(&s.inner_ran) && g_get_monotonic_time() < end)
    g_usleep(1000);
  dc_workers_free(ws);
  g_assert_true(s.inner_ran_first);
}

/* Work handed in as the workers stop is run or freed, never both, never neither. */
static gboolean slow(gpointer data) {
  g_usleep(200);
  return job(data);
}

static void test_stop_loses_nothing(void) {
  dc_workers *ws = dc_workers_new(2);
  state st = {.w = dc_workers_pick(ws)};
  for (int i = 0; i < 2000; i++) {
    job_data *j = g_new0(job_data, 1);
    *j = (job_data){&st, 0, i, 0};
    dc_worker_invoke(st.w, i % 2 ? slow : job, j, job_free);
  }
  dc_workers_free(ws); /* at once: most are still waiting */
  g_test_message("%d of 2000 jobs ran before the stop; %d freed", st.ran, st.destroyed);
  g_assert_cmpint(st.destroyed, ==, 2000);
  g_assert_cmpint(st.order_errors, ==, 0);
}

/* ---- posts: the media hand-off (copied messages, a bounded queue) ---- */

typedef struct {
  state *st;
  int producer, seq;
  gint *released; /* what the message holds, released by running it */
} post_msg;

static void on_post(void *msg) {
  post_msg *m = msg;
  state *st = m->st;
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->order_errors);
  if (st->next_from[m->producer] != m->seq)
    g_atomic_int_inc(&st->order_errors);
  st->next_from[m->producer] = m->seq + 1;
  g_atomic_int_inc(&st->ran);
  if (m->released)
    g_atomic_int_inc(m->released);
}

static gpointer produce_posts(gpointer data) {
  producer_arg *a = data;
  for (int i = 0; i < JOBS; i++) {
    post_msg m = {a->st, a->producer, i, NULL};
    while (!dc_worker_post(a->st->w, on_post, &m, sizeof m)) /* full: this test wants all of them */
      g_usleep(100);
    m.seq = -1; /* the worker runs its own copy */
  }
  return NULL;
}

/* Posts from several threads run on their worker, each once, in each producer's order, with
 * the message as it was when posted. */
static void test_posts_in_order(void) {
  dc_workers *ws = dc_workers_new(2);
  state st = {.w = dc_workers_pick(ws)};
  produce_and_check(&st, produce_posts);
  dc_workers_free(ws);
}

/* A worker that does not run (stuck in a job) is handed posts: the queue takes
 * DC_WORKER_QUEUE_MAX of them, then refuses and counts each refusal, without ever waiting for
 * the worker; calls are still taken. Once it runs again it runs every post taken, once; posts
 * still waiting when the workers stop are run then (what they hold is released). */
typedef struct {
  GMutex lock;
  GCond cond;
  bool entered, go;
} gate;

static gboolean wait_at_gate(gpointer data) {
  gate *g = data;
  g_mutex_lock(&g->lock);
  g->entered = true;
  g_cond_broadcast(&g->cond);
  while (!g->go)
    g_cond_wait(&g->cond, &g->lock);
  g_mutex_unlock(&g->lock);
  return G_SOURCE_REMOVE;
}

static gboolean count_call(gpointer data) {
  g_atomic_int_inc((gint *)data);
  return G_SOURCE_REMOVE;
}

static void block_worker(dc_worker *w, gate *g) {
  g_mutex_init(&g->lock);
  g_cond_init(&g->cond);
  dc_worker_invoke(w, wait_at_gate, g, NULL);
  g_mutex_lock(&g->lock);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!g->entered && g_cond_wait_until(&g->cond, &g->lock, end))
    ;
  g_assert_true(g->entered);
  g_mutex_unlock(&g->lock);
}

static void open_gate(gate *g) {
  g_mutex_lock(&g->lock);
  g->go = true;
  g_cond_broadcast(&g->cond);
  g_mutex_unlock(&g->lock);
}

enum { EXTRA = 500 };

static void test_full_queue_refuses(void) {
  dc_workers *ws = dc_workers_new(1);
  state st = {.w = dc_workers_pick(ws)};
  gate g = {0};
  block_worker(st.w, &g);
  gint released = 0, calls = 0;
  int taken = 0, refused = 0;
  gint64 start = g_get_monotonic_time();
  for (int i = 0; i < DC_WORKER_QUEUE_MAX + EXTRA; i++) {
    post_msg m = {&st, 0, taken, &released};
    if (dc_worker_post(st.w, on_post, &m, sizeof m))
      taken++;
    else
      refused++;
  }
  dc_worker_invoke(st.w, count_call, &calls, NULL); /* a call is never refused */
  double posting_ms = (double)(g_get_monotonic_time() - start) / 1000;
  g_test_message("worker stuck: %d posts taken, %d refused (counted %" G_GUINT64_FORMAT "), in %.1f ms",
                 taken, refused, dc_worker_refused(st.w), posting_ms);
  g_assert_cmpint(taken, ==, DC_WORKER_QUEUE_MAX);
  g_assert_cmpint(refused, ==, EXTRA);
  g_assert_cmpuint(dc_worker_refused(st.w), ==, EXTRA);
  g_assert_cmpint(g_atomic_int_get(&st.ran), ==, 0);
  open_gate(&g);
  gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while ((g_atomic_int_get(&st.ran) < taken || !g_atomic_int_get(&calls)) && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_test_message("after the worker went on: %d posts ran, %d calls, %d out of order", g_atomic_int_get(&st.ran),
                 g_atomic_int_get(&calls), g_atomic_int_get(&st.order_errors));
  g_assert_cmpint(g_atomic_int_get(&st.ran), ==, taken);
  g_assert_cmpint(g_atomic_int_get(&calls), ==, 1);
  g_assert_cmpint(g_atomic_int_get(&st.order_errors), ==, 0);
  /* room again: posts are taken once the queue has drained */
  post_msg m = {&st, 0, taken, &released};
  g_assert_true(dc_worker_post(st.w, on_post, &m, sizeof m));

  /* stuck again, then stopped: what waits is run at the stop, not dropped */
  gate g2 = {0};
  end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&st.ran) < taken + 1 && g_get_monotonic_time() < end)
    g_usleep(1000);
  block_worker(st.w, &g2);
  for (int i = 0; i < 100; i++) {
    post_msg more = {&st, 0, taken + 1 + i, &released};
    g_assert_true(dc_worker_post(st.w, on_post, &more, sizeof more));
  }
  open_gate(&g2);
  dc_workers_free(ws);
  g_test_message("released %d of %d", released, taken + 101);
  g_assert_cmpint(released, ==, taken + 101);
  g_mutex_clear(&g.lock), g_cond_clear(&g.cond), g_mutex_clear(&g2.lock), g_cond_clear(&g2.cond);
}

/* ---- watched descriptors ---- */

typedef struct {
  dc_worker *w;
  int fds[2][2];             /* two socket pairs: [i][0] watched, [i][1] written */
  dc_worker_watch *watch[2];
  gint calls[2], off_worker;
  int stages[2];             /* warming ahead: the stages called since the last ready */
  gint ahead_errors;         /* a stage out of turn, or for a descriptor no longer watched */
  bool unwatch_other;        /* a callback unwatches the other descriptor */
  bool unwatch_self;         /* each callback unwatches itself */
} watched;

static void on_ready(watched *st, int i) {
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->off_worker);
  if (st->stages[i] != DC_WORKER_AHEAD_STAGES)
    g_atomic_int_inc(&st->ahead_errors);
  st->stages[i] = 0;
  char byte;
  if (read(st->fds[i][0], &byte, 1) != 1)
    return;
  g_atomic_int_inc(&st->calls[i]);
  if (st->unwatch_other && st->watch[1 - i]) {
    dc_worker_unwatch(st->watch[1 - i]);
    st->watch[1 - i] = NULL;
  }
  if (st->unwatch_self) {
    dc_worker_unwatch(st->watch[i]);
    st->watch[i] = NULL;
  }
}
static void ready0(gpointer data) { on_ready(data, 0); }
static void ready1(gpointer data) { on_ready(data, 1); }

static void on_ahead(watched *st, int i, unsigned stage) {
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->off_worker);
  if (!st->watch[i] || stage != (unsigned)st->stages[i])
    g_atomic_int_inc(&st->ahead_errors);
  st->stages[i]++;
}
static void ahead0(gpointer data, unsigned stage) { on_ahead(data, 0, stage); }
static void ahead1(gpointer data, unsigned stage) { on_ahead(data, 1, stage); }

static gboolean watch_both(gpointer data) {
  watched *st = data;
  st->watch[0] = dc_worker_watch_fd_ahead(st->w, st->fds[0][0], ready0, ahead0, st);
  st->watch[1] = dc_worker_watch_fd_ahead(st->w, st->fds[1][0], ready1, ahead1, st);
  return G_SOURCE_REMOVE;
}

static gboolean unwatch_left(gpointer data) {
  watched *st = data;
  for (int i = 0; i < 2; i++)
    if (st->watch[i])
      dc_worker_unwatch(st->watch[i]), st->watch[i] = NULL;
  return G_SOURCE_REMOVE;
}

static void run_watched(bool unwatch_other, bool unwatch_self, int expect0, int expect1) {
  dc_workers *ws = dc_workers_new(1);
  watched st = {.w = dc_workers_pick(ws), .unwatch_other = unwatch_other, .unwatch_self = unwatch_self};
  for (int i = 0; i < 2; i++)
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, st.fds[i]), ==, 0);
  /* both readable before the worker watches them: its first batch of events names both */
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2; i++)
      g_assert_cmpint(write(st.fds[i][1], "x", 1), ==, 1);
    if (round == 0)
      dc_worker_invoke(st.w, watch_both, &st, NULL);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end &&
           g_atomic_int_get(&st.calls[0]) + g_atomic_int_get(&st.calls[1]) < MIN(round + 1, expect0) + MIN(round + 1, expect1))
      g_usleep(1000);
    g_usleep(20 * 1000); /* time for a call that should not come */
  }
  dc_worker_invoke(st.w, unwatch_left, &st, NULL);
  dc_workers_free(ws);
  g_test_message("calls: %d and %d (expected %d and %d); off the worker %d; warming ahead out of turn %d",
                 st.calls[0], st.calls[1], expect0, expect1, st.off_worker, st.ahead_errors);
  g_assert_cmpint(st.ahead_errors, ==, 0);
  if (unwatch_other && st.calls[0] < st.calls[1]) { /* whichever came first in the batch */
    int first = st.calls[1];
    st.calls[1] = st.calls[0], st.calls[0] = first;
  }
  g_assert_cmpint(st.calls[0], ==, expect0);
  g_assert_cmpint(st.calls[1], ==, expect1);
  g_assert_cmpint(st.off_worker, ==, 0);
  for (int i = 0; i < 2; i++)
    close(st.fds[i][0]), close(st.fds[i][1]);
}

/* Each readable descriptor's callback, on its worker, every time it is readable. */
static void test_watch_calls_on_worker(void) { run_watched(false, false, 3, 3); }

/* A callback may unwatch itself, or another descriptor whose event is in the same batch: no
 * call follows for either (the other's watch is freed only after the batch; ASan would see it
 * read after its free otherwise). */
static void test_unwatch_from_a_callback(void) {
  run_watched(false, true, 1, 1);
  run_watched(true, false, 3, 0);
}

/* ---- datagram watches: ready sockets read together ---- */

/* Six datagram sockets ready at once: the first five with a datagram each, the sixth with four.
 * With a ring, the worker reads one of each in one system call and hands it to got; the sixth's
 * other three come by its drain; the others' drains, tried after their first datagram, find
 * nothing and are not tried again for their next one. The third's got unwatches it: no drain
 * follows. Without a ring, drain reads everything. Each socket's datagrams arrive in order. */
enum { DGRAMS = 6, BURST = 4 };

typedef struct {
  dc_worker *w;
  int fds[DGRAMS][2];
  dc_worker_watch *watch[DGRAMS];
  int next[DGRAMS];                   /* the number of the datagram expected next */
  int by_got[DGRAMS], drains[DGRAMS]; /* datagrams handed to got; drain calls */
  int out_of_order, off_worker;
  int unwatch_in_got; /* this socket's got unwatches it; -1: none */
  gint received;
} dgram_watched;

typedef struct {
  dgram_watched *st;
  int i;
} dgram_ref;
static dgram_ref dgram_refs[DGRAMS];

static void dgram_arrived(dgram_watched *st, int i, const uint8_t *buf, size_t len) {
  if (len != 1 || buf[0] != st->next[i])
    st->out_of_order++;
  st->next[i]++;
  g_atomic_int_inc(&st->received);
}

static unsigned dgram_drain(gpointer data) {
  dgram_ref *r = data;
  dgram_watched *st = r->st;
  st->off_worker += !dc_worker_is_current(st->w);
  st->drains[r->i]++;
  unsigned n = 0;
  uint8_t b[16];
  ssize_t got;
  while ((got = recv(st->fds[r->i][0], b, sizeof b, MSG_DONTWAIT)) > 0) {
    dgram_arrived(st, r->i, b, (size_t)got);
    n++;
  }
  return n;
}

static void dgram_got(gpointer data, const dc_worker_datagram *d) {
  dgram_ref *r = data;
  dgram_watched *st = r->st;
  st->off_worker += !dc_worker_is_current(st->w);
  st->by_got[r->i]++;
  dgram_arrived(st, r->i, d->buf, d->len);
  if (r->i == st->unwatch_in_got) {
    dc_worker_unwatch(st->watch[r->i]);
    st->watch[r->i] = NULL;
  }
}

static gboolean dgram_watch_all(gpointer data) {
  dgram_watched *st = data;
  for (int i = 0; i < DGRAMS; i++)
    st->watch[i] = dc_worker_watch_datagrams(st->w, st->fds[i][0], dgram_drain, dgram_got, NULL, &dgram_refs[i]);
  return G_SOURCE_REMOVE;
}

static gboolean dgram_unwatch_all(gpointer data) {
  dgram_watched *st = data;
  for (int i = 0; i < DGRAMS; i++)
    if (st->watch[i])
      dc_worker_unwatch(st->watch[i]), st->watch[i] = NULL;
  return G_SOURCE_REMOVE;
}

static gboolean dgram_write_one_each(gpointer data) {
  dgram_watched *st = data;
  for (int i = 0; i < DGRAMS; i++) {
    uint8_t b = (uint8_t)st->next[i];
    if (write(st->fds[i][1], &b, 1) != 1)
      st->out_of_order++;
  }
  return G_SOURCE_REMOVE;
}

static void wait_received(dgram_watched *st, int n) {
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end && g_atomic_int_get(&st->received) < n)
    g_usleep(1000);
  g_usleep(20 * 1000); /* time for a call that should not come */
}

static void run_dgram_watched(bool ring, dgram_watched *st, dc_worker_ring_reads *ring_used) {
  dc_workers_read_by_ring(ring);
  dc_workers *ws = dc_workers_new(1);
  st->w = dc_workers_pick(ws);
  for (int i = 0; i < DGRAMS; i++) {
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, st->fds[i]), ==, 0);
    dgram_refs[i] = (dgram_ref){st, i};
  }
  /* all readable before the worker watches them: its first batch of events names all */
  uint8_t number = 0;
  for (int i = 0; i < DGRAMS; i++)
    for (int k = 0; k < (i == DGRAMS - 1 ? BURST : 1); k++, number++) {
      uint8_t b = (uint8_t)k;
      g_assert_cmpint(write(st->fds[i][1], &b, 1), ==, 1);
    }
  dc_worker_ring_reads before = dc_workers_ring_reads();
  dc_worker_invoke(st->w, dgram_watch_all, st, NULL);
  wait_received(st, number);
  /* then one more each (the unwatched one's stays unread), written by a job on the worker so
   * that its next look at the sockets finds them all ready, however busy the machine */
  dc_worker_invoke(st->w, dgram_write_one_each, st, NULL);
  wait_received(st, number + DGRAMS - (st->unwatch_in_got >= 0));
  dc_worker_invoke(st->w, dgram_unwatch_all, st, NULL);
  dc_workers_free(ws);
  dc_workers_read_by_ring(true);
  dc_worker_ring_reads after = dc_workers_ring_reads();
  *ring_used = (dc_worker_ring_reads){after.calls - before.calls, after.reads - before.reads};
  for (int i = 0; i < DGRAMS; i++)
    close(st->fds[i][0]), close(st->fds[i][1]);
  g_test_message("ring %s: %" G_GUINT64_FORMAT " reads in %" G_GUINT64_FORMAT " calls; by got %d %d %d %d %d %d, drains %d %d %d %d %d %d",
                 ring ? "on" : "off", ring_used->reads, ring_used->calls, st->by_got[0], st->by_got[1], st->by_got[2],
                 st->by_got[3], st->by_got[4], st->by_got[5], st->drains[0], st->drains[1], st->drains[2], st->drains[3],
                 st->drains[4], st->drains[5]);
  g_assert_cmpint(st->out_of_order, ==, 0);
  g_assert_cmpint(st->off_worker, ==, 0);
}

static bool ring_here(void) {
  dc_uring *r = dc_uring_new(8);
  if (!r) {
    g_test_message("no io_uring here (%s): every socket is drained by itself", g_strerror(errno));
    return false;
  }
  dc_uring_free(r);
  return true;
}

static void test_datagrams_read_together(void) {
  dgram_watched st = {.unwatch_in_got = 2};
  dc_worker_ring_reads used;
  run_dgram_watched(true, &st, &used);
  if (!ring_here()) {
    g_assert_cmpuint(used.reads, ==, 0);
    return;
  }
  /* the first wake-up: six reads in one call; the second: five (the third socket unwatched) */
  g_assert_cmpuint(used.reads, ==, 2 * DGRAMS - 1);
  g_assert_cmpuint(used.calls, ==, 2);
  for (int i = 0; i < DGRAMS; i++) {
    if (i == 2) { /* unwatched by its got: no drain, no second datagram */
      g_assert_cmpint(st.by_got[i], ==, 1);
      g_assert_cmpint(st.drains[i], ==, 0);
      g_assert_cmpint(st.next[i], ==, 1);
    } else if (i == DGRAMS - 1) { /* the burst: the rest by drain, and drained after its next */
      g_assert_cmpint(st.by_got[i], ==, 2);
      g_assert_cmpint(st.drains[i], ==, 2);
      g_assert_cmpint(st.next[i], ==, BURST + 1);
    } else { /* drained once after the first, which found nothing: not again */
      g_assert_cmpint(st.by_got[i], ==, 2);
      g_assert_cmpint(st.drains[i], ==, 1);
      g_assert_cmpint(st.next[i], ==, 2);
    }
  }
}

static void test_datagrams_drained_without_ring(void) {
  dgram_watched st = {.unwatch_in_got = -1};
  dc_worker_ring_reads used;
  run_dgram_watched(false, &st, &used);
  g_assert_cmpuint(used.reads, ==, 0);
  for (int i = 0; i < DGRAMS; i++) {
    g_assert_cmpint(st.by_got[i], ==, 0);
    g_assert_cmpint(st.next[i], ==, i == DGRAMS - 1 ? BURST + 1 : 2);
  }
}

/* ---- warming ahead ---- */

/* Six descriptors ready in one batch; the first callback unwatches all the others: none of
 * them is warmed ahead (or called) after that, though their events are in the batch. */
enum { MANY = 6 };

typedef struct {
  dc_worker *w;
  int fds[MANY][2];
  dc_worker_watch *watch[MANY];
  int ready_calls, ahead_after_unwatch;
  gint done;
} many_watched;

typedef struct {
  many_watched *st;
  int i;
} many_arg;

static void many_ready(gpointer data) {
  many_arg *a = data;
  many_watched *st = a->st;
  char byte;
  if (read(st->fds[a->i][0], &byte, 1) != 1)
    return;
  st->ready_calls++;
  for (int k = 0; k < MANY; k++)
    if (st->watch[k]) {
      dc_worker_unwatch(st->watch[k]);
      st->watch[k] = NULL;
    }
  g_atomic_int_set(&st->done, 1);
}

static void many_ahead(gpointer data, unsigned stage) {
  (void)stage;
  many_arg *a = data;
  if (!a->st->watch[a->i])
    a->st->ahead_after_unwatch++;
}

static gboolean watch_many(gpointer data) {
  many_arg *args = data;
  for (int k = 0; k < MANY; k++)
    args[k].st->watch[k] = dc_worker_watch_fd_ahead(args[k].st->w, args[k].st->fds[k][0], many_ready, many_ahead, &args[k]);
  return G_SOURCE_REMOVE;
}

static void test_unwatched_not_warmed(void) {
  dc_workers *ws = dc_workers_new(1);
  many_watched st = {.w = dc_workers_pick(ws)};
  many_arg args[MANY];
  for (int k = 0; k < MANY; k++) {
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, st.fds[k]), ==, 0);
    g_assert_cmpint(write(st.fds[k][1], "x", 1), ==, 1);
    args[k] = (many_arg){&st, k};
  }
  dc_worker_invoke(st.w, watch_many, args, NULL);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (!g_atomic_int_get(&st.done) && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_usleep(20 * 1000); /* time for a call that should not come */
  dc_workers_free(ws);
  g_test_message("ready calls %d (expected 1), warmed after their unwatch %d", st.ready_calls, st.ahead_after_unwatch);
  g_assert_cmpint(st.ready_calls, ==, 1);
  g_assert_cmpint(st.ahead_after_unwatch, ==, 0);
  for (int k = 0; k < MANY; k++)
    close(st.fds[k][0]), close(st.fds[k][1]);
}

enum { WARMED = 40 };

typedef struct {
  dc_worker *w;
  int stages[WARMED]; /* each post's stages called so far */
  bool ran[WARMED];
  int errors;         /* the worker's alone: a stage out of turn, after its post, or off the worker */
  gint done;
} warming;

typedef struct {
  warming *st;
  int seq;
  bool warmed; /* posted with an ahead */
} warm_msg;

static void warm_ahead(const void *msg, unsigned stage) {
  const warm_msg *m = msg;
  warming *st = m->st;
  if (!dc_worker_is_current(st->w) || !m->warmed || st->ran[m->seq] || stage != (unsigned)st->stages[m->seq])
    st->errors++;
  st->stages[m->seq]++;
}

static void warm_post(void *msg) {
  warm_msg *m = msg;
  warming *st = m->st;
  if (st->stages[m->seq] != (m->warmed ? DC_WORKER_AHEAD_STAGES : 0) || st->ran[m->seq])
    st->errors++;
  st->ran[m->seq] = true;
  g_atomic_int_inc(&st->done);
}

/* Every post that names an ahead has each of its stages called once, in order, on its worker
 * and before it runs, whether it waits in a batch of one or of many, among posts without
 * one and calls; the others run as before. */
static void test_posts_warmed_ahead(void) {
  const int batches[] = {1, 2, 5, WARMED};
  for (size_t b = 0; b < G_N_ELEMENTS(batches); b++) {
    dc_workers *ws = dc_workers_new(1);
    warming st = {.w = dc_workers_pick(ws)};
    gate g = {0};
    gint calls = 0;
    block_worker(st.w, &g); /* all of them wait in one batch */
    for (int i = 0; i < batches[b]; i++) {
      warm_msg m = {&st, i, i % 3 != 1};
      g_assert_true(dc_worker_post_ahead(st.w, warm_post, m.warmed ? warm_ahead : NULL, &m, sizeof m));
      if (i % 7 == 3)
        dc_worker_invoke(st.w, count_call, &calls, NULL);
    }
    open_gate(&g);
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (g_atomic_int_get(&st.done) < batches[b] && g_get_monotonic_time() < end)
      g_usleep(1000);
    dc_workers_free(ws);
    g_test_message("a batch of %d: %d ran, %d calls, %d out of turn", batches[b], st.done, calls, st.errors);
    g_assert_cmpint(st.done, ==, batches[b]);
    g_assert_cmpint(st.errors, ==, 0);
    g_mutex_clear(&g.lock), g_cond_clear(&g.cond);
  }
}

/* ---- ticks ---- */

typedef struct {
  dc_worker *w;
  dc_worker_tick *ticks[3];
  gint runs[3], destroyed[3], off_worker;
  int not_in_pass;       /* ticks that found no pass to hold their work to */
  int ends, since_end;   /* the passes' ends, and the ticks run since the last */
  int least_a_pass, most_a_pass;
} ticking;

typedef struct {
  ticking *st;
  int i;
} tick_arg;

static void ticks_ended(gpointer data) {
  ticking *st = data;
  st->ends++;
  st->least_a_pass = MIN(st->least_a_pass, st->since_end);
  st->most_a_pass = MAX(st->most_a_pass, st->since_end);
  st->since_end = 0;
}

static gboolean on_tick(gpointer data) {
  tick_arg *a = data;
  ticking *st = a->st;
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->off_worker);
  st->not_in_pass += !dc_worker_at_pass_end(ticks_ended, st);
  st->since_end++;
  int runs = g_atomic_int_add(&st->runs[a->i], 1) + 1;
  if (a->i == 0 && runs == 2)
    return G_SOURCE_REMOVE; /* the first stops itself on its second run */
  if (a->i == 1 && runs == 3 && st->ticks[2]) {
    dc_worker_stop_tick(st->ticks[2]); /* the second stops the third, maybe before it runs */
    st->ticks[2] = NULL;
  }
  return G_SOURCE_CONTINUE;
}

static void tick_destroyed(gpointer data) {
  tick_arg *a = data;
  g_atomic_int_inc(&a->st->destroyed[a->i]);
}

static gboolean start_ticks(gpointer data) {
  ticking *st = data;
  static tick_arg args[3];
  for (int i = 0; i < 3; i++) {
    args[i] = (tick_arg){st, i};
    st->ticks[i] = dc_worker_every(st->w, 10, on_tick, &args[i], tick_destroyed);
  }
  return G_SOURCE_REMOVE;
}

/* Ticks of one interval run on their worker, each every interval, until one returns
 * G_SOURCE_REMOVE or is stopped (from another's tick too); each one's data is let go once, a
 * tick never stopped when the workers stop. The interval's ticks are one pass: what they put
 * to its end runs once, after the last of them. */
static void test_ticks(void) {
  dc_workers *ws = dc_workers_new(1);
  ticking st = {.w = dc_workers_pick(ws), .least_a_pass = G_MAXINT};
  dc_worker_invoke(st.w, start_ticks, &st, NULL);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end && g_atomic_int_get(&st.runs[1]) < 6)
    g_usleep(1000);
  dc_workers_free(ws);
  g_test_message("runs %d %d %d, destroyed %d %d %d", st.runs[0], st.runs[1], st.runs[2], st.destroyed[0],
                 st.destroyed[1], st.destroyed[2]);
  g_assert_cmpint(st.runs[0], ==, 2);
  g_assert_cmpint(st.runs[1], >=, 6);
  g_assert_cmpint(st.runs[2], >=, 2); /* ran with the others until the second's third run */
  g_assert_cmpint(st.runs[2], <=, 3);
  for (int i = 0; i < 3; i++)
    g_assert_cmpint(st.destroyed[i], ==, 1);
  g_assert_cmpint(st.off_worker, ==, 0);
  g_test_message("passes ended %d, ticks a pass %d to %d, outside a pass %d", st.ends, st.least_a_pass,
                 st.most_a_pass, st.not_in_pass);
  g_assert_cmpint(st.not_in_pass, ==, 0);
  g_assert_cmpint(st.ends, ==, st.runs[1]); /* the second runs in every pass, and never stops */
  g_assert_cmpint(st.least_a_pass, >=, 1);  /* the second alone, once the others stopped */
  g_assert_cmpint(st.most_a_pass, ==, 3);
}

/* ---- a pass's end ---- */

/* Posts that queued while the worker was busy run as one pass; what they put to its end runs
 * once, after the last of them, on the worker; asked for there, outside a pass, it is refused
 * (the caller works at once), as it is on any other thread. Likewise a batch of ready
 * descriptors. */
enum { PASS_JOBS = 20, PASS_FDS = 3 };

typedef struct {
  dc_worker *w;
  gint gate;           /* the first post waits for it, so the others queue behind it */
  gint gate_running;   /* ... and says when it runs: the others are posted only then */
  int ran, ended, ran_when_ended;
  bool refused_at_end; /* dc_worker_at_pass_end from within the pass's end */
  bool on_worker;
  int fds[PASS_FDS][2];
  dc_worker_watch *watch[PASS_FDS];
  gint done;
} pass_state;

static void pass_ended(gpointer data) {
  pass_state *st = data;
  st->ended++;
  st->ran_when_ended = st->ran;
  st->refused_at_end = !dc_worker_at_pass_end(pass_ended, st);
  st->on_worker = dc_worker_is_current(st->w);
  g_atomic_int_set(&st->done, 1);
}

static void pass_gate(void *msg) {
  pass_state *st = *(pass_state **)msg;
  g_atomic_int_set(&st->gate_running, 1);
  while (!g_atomic_int_get(&st->gate))
    g_usleep(1000);
}

static void pass_job(void *msg) {
  pass_state *st = *(pass_state **)msg;
  g_assert_true(dc_worker_at_pass_end(pass_ended, st));
  st->ran++;
}

static void pass_ready(gpointer data) {
  pass_state *st = data;
  for (int i = 0; i < PASS_FDS; i++) {
    char byte;
    if (read(st->fds[i][0], &byte, 1) == 1) {
      g_assert_true(dc_worker_at_pass_end(pass_ended, st));
      st->ran++;
      return;
    }
  }
}

static void wait_done(pass_state *st) {
  for (int i = 0; i < 5000 && !g_atomic_int_get(&st->done); i++)
    g_usleep(1000);
  g_assert_cmpint(g_atomic_int_get(&st->done), ==, 1);
}

static gboolean watch_all(gpointer data) {
  pass_state *st = data;
  for (int i = 0; i < PASS_FDS; i++)
    st->watch[i] = dc_worker_watch_fd(st->w, st->fds[i][0], pass_ready, st);
  return G_SOURCE_REMOVE;
}

static gboolean unwatch_all(gpointer data) {
  pass_state *st = data;
  for (int i = 0; i < PASS_FDS; i++)
    dc_worker_unwatch(st->watch[i]);
  g_atomic_int_set(&st->done, 1);
  return G_SOURCE_REMOVE;
}

static void test_pass_end(void) {
  dc_workers *ws = dc_workers_new(1);
  pass_state *st = g_new0(pass_state, 1);
  st->w = dc_workers_pick(ws);
  g_assert_false(dc_worker_at_pass_end(pass_ended, st)); /* not a worker */
  g_assert_true(dc_worker_post(st->w, pass_gate, &st, sizeof st));
  /* posted while the gate runs, the jobs all wait in the next batch (posted before the worker
   * woke, some could have joined the gate's batch and the rest the next) */
  for (int i = 0; i < 5000 && !g_atomic_int_get(&st->gate_running); i++)
    g_usleep(1000);
  g_assert_cmpint(g_atomic_int_get(&st->gate_running), ==, 1);
  for (int i = 0; i < PASS_JOBS; i++)
    g_assert_true(dc_worker_post(st->w, pass_job, &st, sizeof st));
  g_atomic_int_set(&st->gate, 1);
  wait_done(st);
  g_usleep(20000); /* nothing more comes */
  g_test_message("posts: the pass's end ran %d time(s), after %d of %d jobs", st->ended, st->ran_when_ended, PASS_JOBS);
  g_assert_cmpint(st->ended, ==, 1);
  g_assert_cmpint(st->ran_when_ended, ==, PASS_JOBS);
  g_assert_true(st->refused_at_end && st->on_worker);

  /* three descriptors ready before they are watched: one batch */
  *st = (pass_state){.w = st->w};
  for (int i = 0; i < PASS_FDS; i++) {
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, st->fds[i]), ==, 0);
    g_assert_cmpint(write(st->fds[i][1], "x", 1), ==, 1);
  }
  dc_worker_invoke(st->w, watch_all, st, NULL);
  wait_done(st);
  g_usleep(20000);
  g_test_message("watches: the pass's end ran %d time(s), after %d of %d", st->ended, st->ran_when_ended, PASS_FDS);
  g_assert_cmpint(st->ended, ==, 1);
  g_assert_cmpint(st->ran_when_ended, ==, PASS_FDS);
  g_atomic_int_set(&st->done, 0);
  dc_worker_invoke(st->w, unwatch_all, st, NULL);
  wait_done(st);
  for (int i = 0; i < PASS_FDS; i++)
    close(st->fds[i][0]), close(st->fds[i][1]);
  dc_workers_free(ws);
  g_free(st);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/worker/many-threads-in-order", test_many_threads_in_order);
  g_test_add_func("/worker/self-runs-at-once", test_self_runs_at_once);
  g_test_add_func("/worker/stop-loses-nothing", test_stop_loses_nothing);
  g_test_add_func("/worker/posts-in-order", test_posts_in_order);
  g_test_add_func("/worker/full-queue-refuses", test_full_queue_refuses);
  g_test_add_func("/worker/watch-calls-on-worker", test_watch_calls_on_worker);
  g_test_add_func("/worker/unwatch-from-a-callback", test_unwatch_from_a_callback);
  g_test_add_func("/worker/datagrams-read-together", test_datagrams_read_together);
  g_test_add_func("/worker/datagrams-drained-without-ring", test_datagrams_drained_without_ring);
  g_test_add_func("/worker/posts-warmed-ahead", test_posts_warmed_ahead);
  g_test_add_func("/worker/unwatched-not-warmed", test_unwatched_not_warmed);
  g_test_add_func("/worker/ticks", test_ticks);
  g_test_add_func("/worker/pass-end", test_pass_end);
  return g_test_run();
}
