/* outbox: media a worker sends during a pass is held to the pass's end, then each peer's
 * packets arrive whole and in order, a run of one size in one send (UDP GSO), or all of a
 * peer's in one sendmmsg without GSO; a pass to several peers goes in one io_uring batch where
 * the kernel has one, and a peer whose send fails there costs the others nothing; outside a
 * pass a packet goes at once; a full outbox and dc_outbox_flush send at once without losing
 * the order. Real sockets on 127.0.0.1. */
#include "bridge/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bridge/metrics.h"
#include "bridge/uring.h"
#include "bridge/worker.h"

typedef struct {
  int fd;
  struct sockaddr_storage addr;
  socklen_t len;
} peer;

static peer open_peer(void) {
  peer p = {.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  g_assert_cmpint(p.fd, >=, 0);
  struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(p.fd, (struct sockaddr *)&p.addr, sizeof *in), ==, 0);
  p.len = sizeof p.addr;
  g_assert_cmpint(getsockname(p.fd, (struct sockaddr *)&p.addr, &p.len), ==, 0);
  int bytes = 8 << 20; /* a full outbox's worth waits here unread (root: past rmem_max) */
  if (setsockopt(p.fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    g_assert_cmpint(setsockopt(p.fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes), ==, 0);
  return p;
}

/* A packet of len bytes whose first two say its number in its peer's stream. */
static void numbered(uint8_t *buf, size_t len, unsigned number) {
  memset(buf, (int)(number * 7 + 1), len);
  buf[0] = (uint8_t)(number >> 8);
  buf[1] = (uint8_t)number;
}

/* Whether the next datagram at p is number `number` of `len` bytes (waits up to 5 s). */
static void expect_packet(const peer *p, unsigned number, size_t len) {
  struct pollfd pfd = {p->fd, POLLIN, 0};
  g_assert_cmpint(poll(&pfd, 1, 5000), ==, 1);
  uint8_t got[2048], want[2048];
  ssize_t n = recv(p->fd, got, sizeof got, MSG_DONTWAIT);
  numbered(want, len, number);
  if (n != (ssize_t)len || memcmp(got, want, len))
    g_error("packet %u: %zd bytes, number %u; expected %zu bytes, whole", number, n, n >= 2 ? got[0] << 8 | got[1] : 0,
            len);
}

/* Whether a datagram reaches p within a second: loopback delivers within the send on an idle
 * machine, but a busy one may leave it to ksoftirqd a moment later. */
static bool arrives(const peer *p) {
  struct pollfd pfd = {p->fd, POLLIN, 0};
  return poll(&pfd, 1, 1000) == 1;
}

static bool nothing_waiting(const peer *p) {
  uint8_t b[1];
  return recv(p->fd, b, sizeof b, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN;
}

/* What a job on the worker sends: to peers a and b in turn, of these sizes. */
typedef struct {
  dc_outbox_sender *to_a, *to_b;
  const peer *a, *b;
  const size_t *sizes_a, *sizes_b;
  unsigned n_a, n_b;
  bool flush_midway;  /* dc_outbox_flush after the first packets */
  unsigned linger_ms; /* the job goes on this long after its sends, before the pass ends */
  bool held, flushed; /* what the job saw: nothing had arrived while it ran; all had after the flush */
  size_t open_after_a[8]; /* dc_outbox_open_run(to_a) after each of a's first 8 packets */
  gint done;
} sends;

static void send_job(void *msg) {
  sends *s = *(sends **)msg;
  uint8_t buf[2048];
  for (unsigned i = 0; i < MAX(s->n_a, s->n_b); i++) {
    if (i < s->n_a) {
      numbered(buf, s->sizes_a[i], i);
      g_assert_true(dc_outbox_send(s->to_a, buf, s->sizes_a[i]));
      if (i < G_N_ELEMENTS(s->open_after_a))
        s->open_after_a[i] = dc_outbox_open_run(s->to_a);
    }
    if (i < s->n_b) {
      numbered(buf, s->sizes_b[i], i);
      g_assert_true(dc_outbox_send(s->to_b, buf, s->sizes_b[i]));
    }
  }
  s->held = nothing_waiting(s->a) && nothing_waiting(s->b);
  if (s->linger_ms)
    g_usleep(s->linger_ms * 1000);
  if (s->flush_midway) {
    dc_outbox_flush();
    s->flushed = arrives(s->a); /* still within the pass: only the flush can have sent it */
  }
  g_atomic_int_set(&s->done, 1);
}

/* Runs s on a worker, waits for it, and checks what arrived; returns the stats it cost. */
static dc_outbox_stats run_sends(sends *s) {
  dc_workers *ws = dc_workers_new(1);
  dc_worker *w = dc_workers_pick(ws);
  dc_outbox_stats before = dc_outbox_get_stats();
  g_assert_true(dc_worker_post(w, send_job, &s, sizeof s));
  for (int i = 0; i < 5000 && !g_atomic_int_get(&s->done); i++)
    g_usleep(1000);
  g_assert_cmpint(g_atomic_int_get(&s->done), ==, 1);
  for (unsigned i = 0; i < s->n_a; i++)
    expect_packet(s->a, i, s->sizes_a[i]);
  for (unsigned i = 0; i < s->n_b; i++)
    expect_packet(s->b, i, s->sizes_b[i]);
  g_assert_true(nothing_waiting(s->a) && nothing_waiting(s->b));
  dc_workers_free(ws);
  dc_outbox_stats after = dc_outbox_get_stats();
  return (dc_outbox_stats){after.calls - before.calls, after.sends - before.sends, after.packets - before.packets,
                           after.gso_calls - before.gso_calls, after.gso_packets - before.gso_packets,
                           after.ring_sends - before.ring_sends};
}

/* Whether this kernel gives the outbox a ring (uring.h); where it does not, a pass to several
 * peers costs a system call a send, and the tests say so. */
static bool ring_here(void) {
  dc_uring *r = dc_uring_new(8);
  if (!r) {
    g_test_message("no io_uring here (%s): the outbox sends a system call a peer", g_strerror(errno));
    return false;
  }
  dc_uring_free(r);
  return true;
}

typedef struct {
  peer from, a, b;
  dc_outbox_sender to_a, to_b;
} fixture;

static void fixture_open(fixture *f) {
  f->from = open_peer(), f->a = open_peer(), f->b = open_peer();
  dc_outbox_sender_init(&f->to_a, f->from.fd, &f->a.addr, &f->a.len);
  dc_outbox_sender_init(&f->to_b, f->from.fd, &f->b.addr, &f->b.len);
}

static void fixture_close(fixture *f) {
  close(f->from.fd), close(f->a.fd), close(f->b.fd);
}

static sends sends_of(fixture *f, const size_t *sizes_a, unsigned n_a, const size_t *sizes_b, unsigned n_b) {
  return (sends){.to_a = &f->to_a, .to_b = &f->to_b, .a = &f->a, .b = &f->b, .sizes_a = sizes_a, .sizes_b = sizes_b,
                 .n_a = n_a, .n_b = n_b};
}

/* A frame's packets as a packetizer makes them (the first a little longer, the last shorter)
 * to one peer, another's between them. */
static const size_t frame_a[] = {1013, 1000, 1000, 1000, 300}, frame_b[] = {500, 500, 200};

static void test_held_to_pass_end(void) {
  fixture f;
  fixture_open(&f);
  sends s = sends_of(&f, frame_a, G_N_ELEMENTS(frame_a), frame_b, G_N_ELEMENTS(frame_b));
  dc_outbox_stats st = run_sends(&s);
  g_assert_true(s.held);
  /* a: [1013, 1000] (the shorter last), [1000, 1000, 300]; b: [500, 500, 200] */
  g_test_message("%" G_GUINT64_FORMAT " datagrams in %" G_GUINT64_FORMAT " sends, %" G_GUINT64_FORMAT
                 " system calls, %" G_GUINT64_FORMAT " by GSO",
                 st.packets, st.sends, st.calls, st.gso_packets);
  g_assert_cmpuint(st.packets, ==, 8);
  g_assert_cmpuint(st.sends, ==, 3);
  g_assert_cmpuint(st.gso_calls, ==, 3);
  g_assert_cmpuint(st.calls, ==, ring_here() ? 1 : 3); /* two peers: one batch */
  /* the run a's packets end in, as send_held cut it: 1013 open, closed by the shorter 1000; a
   * new one of 1000, closed by the 300 */
  const size_t open[] = {1013, 0, 1000, 1000, 0};
  for (unsigned i = 0; i < G_N_ELEMENTS(open); i++)
    g_assert_cmpuint(s.open_after_a[i], ==, open[i]);
  g_assert_cmpuint(dc_outbox_open_run(&f.to_a), ==, 0); /* sent: nothing held */
  fixture_close(&f);
}

/* A frame whose packets after the first were padded to its length (as the transport does
 * when they fall short by a few bytes): the whole frame in one call. */
static void test_padded_frame_one_call(void) {
  fixture f;
  fixture_open(&f);
  static const size_t padded[] = {1013, 1013, 1013, 1013, 300}, none[] = {0};
  sends s = sends_of(&f, padded, G_N_ELEMENTS(padded), none, 0);
  dc_outbox_stats st = run_sends(&s);
  g_assert_cmpuint(st.packets, ==, 5);
  g_assert_cmpuint(st.calls, ==, 1);
  for (unsigned i = 0; i < 4; i++)
    g_assert_cmpuint(s.open_after_a[i], ==, 1013);
  fixture_close(&f);
}

static void test_without_gso_by_sendmmsg(void) {
  fixture f;
  fixture_open(&f);
  dc_outbox_use_gso(false);
  dc_outbox_use_ring(false);
  sends s = sends_of(&f, frame_a, G_N_ELEMENTS(frame_a), frame_b, G_N_ELEMENTS(frame_b));
  dc_outbox_stats st = run_sends(&s);
  dc_outbox_use_ring(true);
  dc_outbox_use_gso(true);
  g_assert_true(s.held);
  g_assert_cmpuint(st.packets, ==, 8);
  g_assert_cmpuint(st.calls, ==, 2); /* a peer's all in one */
  g_assert_cmpuint(st.sends, ==, 2);
  g_assert_cmpuint(st.gso_calls, ==, 0);
  for (unsigned i = 0; i < G_N_ELEMENTS(frame_a); i++) /* nothing to pad for */
    g_assert_cmpuint(s.open_after_a[i], ==, 0);
  fixture_close(&f);
}

/* Without GSO but with the ring: each packet one send, all of the pass in one call. */
static void test_without_gso_by_ring(void) {
  fixture f;
  fixture_open(&f);
  dc_outbox_use_gso(false);
  sends s = sends_of(&f, frame_a, G_N_ELEMENTS(frame_a), frame_b, G_N_ELEMENTS(frame_b));
  dc_outbox_stats st = run_sends(&s);
  dc_outbox_use_gso(true);
  g_assert_true(s.held);
  g_assert_cmpuint(st.packets, ==, 8);
  g_assert_cmpuint(st.gso_calls, ==, 0);
  if (ring_here()) {
    g_assert_cmpuint(st.sends, ==, 8);
    g_assert_cmpuint(st.calls, ==, 1);
  } else {
    g_assert_cmpuint(st.calls, ==, 2);
  }
  fixture_close(&f);
}

/* A mix tick's shape: one packet to each of many peers, each on a socket of its own (as every
 * participant's transport has), in one pass. With the ring they go in one system call; without
 * it, one each. A peer whose socket is no socket (its send fails in the batch) loses its packet
 * and nothing else: the peers after it in the batch get theirs. */
enum { MANY = 40 };

typedef struct {
  dc_outbox_sender *to[MANY];
  gint done;
} many_sends;

static void many_job(void *msg) {
  many_sends *m = *(many_sends **)msg;
  uint8_t buf[160];
  for (unsigned i = 0; i < MANY; i++) {
    numbered(buf, sizeof buf, i);
    dc_outbox_send(m->to[i], buf, sizeof buf);
  }
  g_atomic_int_set(&m->done, 1);
}

static dc_outbox_stats many_peers(bool ring, unsigned broken) {
  peer from[MANY], to[MANY];
  dc_outbox_sender senders[MANY];
  int not_a_socket = open("/dev/null", O_WRONLY | O_CLOEXEC);
  g_assert_cmpint(not_a_socket, >=, 0);
  many_sends m = {0};
  for (unsigned i = 0; i < MANY; i++) {
    from[i] = open_peer(), to[i] = open_peer();
    dc_outbox_sender_init(&senders[i], i == broken ? not_a_socket : from[i].fd, &to[i].addr, &to[i].len);
    m.to[i] = &senders[i];
  }
  dc_outbox_use_ring(ring);
  dc_workers *ws = dc_workers_new(1);
  dc_outbox_stats before = dc_outbox_get_stats();
  many_sends *mp = &m;
  g_assert_true(dc_worker_post(dc_workers_pick(ws), many_job, &mp, sizeof mp));
  for (int i = 0; i < 5000 && !g_atomic_int_get(&m.done); i++)
    g_usleep(1000);
  dc_workers_free(ws);
  dc_outbox_use_ring(true);
  dc_outbox_stats after = dc_outbox_get_stats();
  for (unsigned i = 0; i < MANY; i++) {
    if (i == broken)
      g_assert_true(nothing_waiting(&to[i]));
    else
      expect_packet(&to[i], i, 160);
    close(from[i].fd), close(to[i].fd);
  }
  close(not_a_socket);
  return (dc_outbox_stats){after.calls - before.calls, after.sends - before.sends, after.packets - before.packets, 0, 0,
                           after.ring_sends - before.ring_sends};
}

static void test_many_peers_one_call(void) {
  dc_outbox_stats by_ring = many_peers(true, MANY), one_by_one = many_peers(false, MANY);
  g_test_message("%d peers, a packet each: %" G_GUINT64_FORMAT " system calls with the ring, %" G_GUINT64_FORMAT
                 " without",
                 MANY, by_ring.calls, one_by_one.calls);
  g_assert_cmpuint(one_by_one.calls, ==, MANY);
  g_assert_cmpuint(by_ring.sends, ==, MANY);
  g_assert_cmpuint(by_ring.packets, ==, MANY);
  g_assert_cmpuint(by_ring.calls, ==, ring_here() ? 1 : MANY);
  g_assert_cmpuint(by_ring.ring_sends, ==, ring_here() ? MANY : 0); /* /metrics tells operators which way */
  g_assert_cmpuint(one_by_one.ring_sends, ==, 0);
  g_assert_cmpuint(one_by_one.sends, ==, MANY);
}

static void test_failed_send_costs_others_nothing(void) {
  dc_outbox_stats st = many_peers(true, 3); /* the fourth peer's send fails (ENOTSOCK) */
  g_assert_cmpuint(st.sends, ==, MANY);
  g_assert_cmpuint(st.packets, ==, ring_here() ? MANY - 1 : MANY); /* sendto's count is of tries */
}

static void test_outside_a_pass_at_once(void) {
  fixture f;
  fixture_open(&f);
  uint8_t buf[1000];
  numbered(buf, sizeof buf, 0);
  dc_outbox_stats before = dc_outbox_get_stats();
  g_assert_true(dc_outbox_send(&f.to_a, buf, sizeof buf)); /* the main thread: no pass */
  g_assert_true(arrives(&f.a)); /* no pass on this thread: held, it would never go */
  expect_packet(&f.a, 0, sizeof buf);
  g_assert_cmpuint(dc_outbox_get_stats().calls - before.calls, ==, 1);
  fixture_close(&f);
}

/* More than the outbox holds in one pass (1024 packets): it goes at once when full, and
 * the order holds across. */
static void test_full_outbox_keeps_order(void) {
  fixture f;
  fixture_open(&f);
  enum { N = 1500 };
  static size_t sizes_a[N], sizes_b[N / 3];
  for (unsigned i = 0; i < N; i++)
    sizes_a[i] = 200 + i % 3; /* runs of one: by sendto, mostly */
  for (unsigned i = 0; i < N / 3; i++)
    sizes_b[i] = 1200;
  sends s = sends_of(&f, sizes_a, N, sizes_b, N / 3);
  dc_outbox_stats st = run_sends(&s);
  g_assert_false(s.held); /* the first 1024 had gone */
  g_assert_cmpuint(st.packets, ==, N + N / 3);
  fixture_close(&f);
}

/* /metrics's diemcau_outbox_hold_seconds: a pass whose job goes on 3 ms after its first
 * send counts one wait of at least that; a send outside a pass counts none. */
static void test_hold_wait_measured(void) {
  fixture f;
  fixture_open(&f);
  uint64_t count0 = atomic_load(&dc_metrics.hold_count), sum0 = atomic_load(&dc_metrics.hold_sum_us);
  uint64_t within_1ms0 = 0;
  for (int i = 0; i <= 4; i++) /* buckets up to 1000 µs */
    within_1ms0 += atomic_load(&dc_metrics.hold_buckets[i]);
  sends s = sends_of(&f, frame_a, G_N_ELEMENTS(frame_a), frame_b, G_N_ELEMENTS(frame_b));
  s.linger_ms = 3;
  run_sends(&s);
  uint64_t count = atomic_load(&dc_metrics.hold_count) - count0, sum = atomic_load(&dc_metrics.hold_sum_us) - sum0;
  uint64_t within_1ms = 0;
  for (int i = 0; i <= 4; i++)
    within_1ms += atomic_load(&dc_metrics.hold_buckets[i]);
  g_test_message("a pass that went on 3 ms after its first send: %" G_GUINT64_FORMAT " waits counted, %" G_GUINT64_FORMAT
                 " µs in all", count, sum);
  g_assert_cmpuint(count, ==, 1);
  g_assert_cmpuint(sum, >=, 3000);
  g_assert_cmpuint(within_1ms - within_1ms0, ==, 0);
  uint8_t buf[1000];
  numbered(buf, sizeof buf, 0);
  g_assert_true(dc_outbox_send(&f.to_a, buf, sizeof buf)); /* the main thread: no pass, no wait */
  expect_packet(&f.a, 0, sizeof buf);
  g_assert_cmpuint(atomic_load(&dc_metrics.hold_count) - count0, ==, 1);
  fixture_close(&f);
}

static void test_flush_sends_at_once(void) {
  fixture f;
  fixture_open(&f);
  sends s = sends_of(&f, frame_a, G_N_ELEMENTS(frame_a), frame_b, G_N_ELEMENTS(frame_b));
  s.flush_midway = true;
  dc_outbox_stats st = run_sends(&s);
  g_assert_true(s.held && s.flushed);
  g_assert_cmpuint(st.packets, ==, 8); /* none twice at the pass's end */
  fixture_close(&f);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/outbox/held-to-pass-end", test_held_to_pass_end);
  g_test_add_func("/outbox/without-gso-by-sendmmsg", test_without_gso_by_sendmmsg);
  g_test_add_func("/outbox/without-gso-by-ring", test_without_gso_by_ring);
  g_test_add_func("/outbox/many-peers-one-call", test_many_peers_one_call);
  g_test_add_func("/outbox/failed-send-costs-others-nothing", test_failed_send_costs_others_nothing);
  g_test_add_func("/outbox/padded-frame-one-call", test_padded_frame_one_call);
  g_test_add_func("/outbox/outside-a-pass-at-once", test_outside_a_pass_at_once);
  g_test_add_func("/outbox/full-outbox-keeps-order", test_full_outbox_keeps_order);
  g_test_add_func("/outbox/flush-sends-at-once", test_flush_sends_at_once);
  g_test_add_func("/outbox/hold-wait-measured", test_hold_wait_measured);
  return g_test_run();
}
