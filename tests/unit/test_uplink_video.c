/* A camera's uplink rate from the queue its packets show: a link that carries what is sent is
 * never capped (jitter, abs-send-time's 64 s wrap); one that does not is capped near its rate
 * within seconds and its queue drains; a link that widens again is found again. The sender
 * is simulated as a browser under our REMB: video at the cap less its audio (its encoder
 * following within a second), 15 frames a second in packets of at most 1200 bytes paced at
 * 2.5 times its rate, audio as 60 ms packets with a RED copy; each stamped with abs-send-time
 * as it leaves, through a link of a set rate with a 6400-byte tail-drop queue, 150 ms of delay
 * and ±jitter, seeded. */
#include <glib.h>

#include "media/uplink_video.h"

#define AUDIO_BPS 40000  /* 16 kbit/s Opus with RED's copy and headers, every 60 ms */
#define CAP_BPS 150000   /* the loss controller's cap: the highland profile's */
#define QUEUE_BYTES 6400

typedef struct {
  int64_t arrival;
  uint32_t ast;
  size_t bytes;
} packet_on_the_way;

typedef struct {
  dc_uplink_video u;
  int64_t now;            /* µs */
  uint64_t link_bps;
  int64_t busy_until;     /* when the link's queue empties */
  double video_bps;       /* what the encoder makes now */
  int64_t next_frame, next_audio, pace_until, next_second;
  uint64_t came_bytes;    /* arrived this second */
  packet_on_the_way on_the_way[256]; /* through the link, in the order they left it */
  unsigned head, tail;
  uint64_t cap_bps;       /* the REMB in force: min(loss cap, estimate) */
  uint32_t ast_offset;    /* the sender's clock's origin, in abs-send-time units */
  int jitter_us;
  bool without; /* the cap stays the loss controller's */
  unsigned drops, sent, cuts_seen;
  double queue_ms_sum;
  unsigned queue_samples;
  uint64_t came_sum, came_seconds;
  GRand *rand;
} sim;

static void sim_init(sim *s, uint64_t link_bps, guint32 seed, uint32_t ast_offset, int jitter_us) {
  memset(s, 0, sizeof *s);
  dc_uplink_video_init(&s->u);
  s->now = 1000000;
  s->link_bps = link_bps;
  s->video_bps = CAP_BPS - AUDIO_BPS;
  s->cap_bps = CAP_BPS;
  s->next_frame = s->next_audio = s->pace_until = s->now;
  s->next_second = s->now + 1000000;
  s->ast_offset = ast_offset;
  s->jitter_us = jitter_us;
  s->rand = g_rand_new_with_seed(seed);
}

/* The link's queue in bytes at time t: service left of the packets ahead, at its rate. */
static int64_t backlog_bytes(const sim *s, int64_t t) {
  return s->busy_until > t ? (s->busy_until - t) * (int64_t)s->link_bps / 8000000 : 0;
}

/* A packet leaves the sender at time t: through the link (or dropped at a full queue), and
 * on arrival to the estimator. Arrivals are fed in send order (the link keeps it). */
static void send_packet(sim *s, int64_t t, size_t bytes) {
  s->sent++;
  int64_t backlog = backlog_bytes(s, t);
  if (backlog + (int64_t)bytes > QUEUE_BYTES) {
    s->drops++;
    return;
  }
  int64_t begin = MAX(t, s->busy_until);
  s->busy_until = begin + (int64_t)bytes * 8 * 1000000 / (int64_t)s->link_bps;
  s->queue_ms_sum += (double)(begin - t) / 1000;
  s->queue_samples++;
  int64_t jitter = s->jitter_us ? g_rand_int_range(s->rand, -s->jitter_us, s->jitter_us + 1) : 0;
  int64_t arrival = s->busy_until + 150000 + jitter;
  /* 6.18 fixed point, 24 bits: wraps every 64 s */
  uint32_t ast = ((uint32_t)(((uint64_t)t << 18) / 1000000) + s->ast_offset) & 0xFFFFFF;
  g_assert_cmpuint(s->tail - s->head, <, G_N_ELEMENTS(s->on_the_way));
  s->on_the_way[s->tail++ % G_N_ELEMENTS(s->on_the_way)] = (packet_on_the_way){arrival, ast, bytes};
}

/* What has arrived by now, to the estimator (jitter may swap two: it takes them as they come). */
static void arrive(sim *s) {
  while (s->head != s->tail && s->on_the_way[s->head % G_N_ELEMENTS(s->on_the_way)].arrival <= s->now) {
    packet_on_the_way *p = &s->on_the_way[s->head++ % G_N_ELEMENTS(s->on_the_way)];
    dc_uplink_video_packet(&s->u, p->ast, (uint64_t)p->arrival);
    s->came_bytes += p->bytes;
  }
}

/* Runs the sender and link for seconds; the REMB is recomputed each second from the estimate,
 * and reaches the encoder 150 ms later, which follows it over about a second. */
static void run(sim *s, double seconds) {
  int64_t end = s->now + (int64_t)(seconds * 1e6);
  for (; s->now < end; s->now += 1000) {
    double target = (double)s->cap_bps - AUDIO_BPS;
    s->video_bps += (target - s->video_bps) * 0.001 * 1.5; /* ~0.7 s to follow */
    if (s->video_bps < 20000)
      s->video_bps = 20000;
    if (s->now >= s->next_audio) {
      send_packet(s, s->now, AUDIO_BPS * 60 / 1000 / 8);
      s->next_audio += 60000;
    }
    if (s->now >= s->next_frame) { /* a frame, paced out at 2.5 times the rate */
      size_t frame = (size_t)(s->video_bps / 15 / 8);
      int64_t t = MAX(s->now, s->pace_until);
      while (frame) {
        size_t bytes = frame > 1200 ? 1200 : frame;
        frame -= bytes;
        send_packet(s, t, bytes + 40);
        t += (int64_t)((double)(bytes + 40) * 8 * 1e6 / (s->video_bps * 2.5));
      }
      s->pace_until = t;
      s->next_frame += 66667;
    }
    arrive(s);
    if (s->now >= s->next_second) {
      uint64_t came = s->came_bytes * 8;
      s->came_bytes = 0;
      s->came_sum += came, s->came_seconds++;
      uint64_t est = dc_uplink_video_estimate(&s->u, came, (uint64_t)s->now);
      s->cap_bps = est && est < CAP_BPS && !s->without ? est : CAP_BPS;
      s->next_second += 1000000;
    }
  }
}

static void reset_counts(sim *s) {
  s->drops = s->sent = 0;
  s->queue_ms_sum = 0;
  s->queue_samples = 0;
  s->came_sum = s->came_seconds = 0;
}

/* 256 kbit/s carries the 150 kbit/s the loss controller allows, with ±20 ms of jitter: the
 * estimate never caps it, and nothing is dropped. */
static void test_a_link_that_carries_it(void) {
  sim s;
  sim_init(&s, 256000, 1, 0, 20000);
  run(&s, 60);
  g_test_message("256 kbit/s: estimate %" G_GUINT64_FORMAT ", %u cuts, %u of %u dropped, queue %.1f ms on average",
                 s.u.estimate_bps, s.u.cuts, s.drops, s.sent, s.queue_ms_sum / MAX(s.queue_samples, 1));
  g_assert_cmpuint(s.u.cuts, ==, 0);
  g_assert_cmpuint(s.u.estimate_bps, ==, 0);
  g_assert_cmpuint(s.drops, ==, 0);
  g_rand_free(s.rand);
}

/* 128 kbit/s does not: within seconds the queue is seen and the cap cut, and from then on the
 * cap probes around the link's rate: the queue is a third of what it is without (tens of ms
 * on average, where it stood near full), few packets are dropped, and the link is still used
 * (at least 70 % of it). */
static void check_capped(uint32_t ast_offset, guint32 seed) {
  sim s;
  sim_init(&s, 128000, seed, ast_offset, 10000);
  run(&s, 10);
  g_test_message("128 kbit/s, first 10 s: cap %" G_GUINT64_FORMAT ", %u cuts, %u of %u dropped", s.cap_bps,
                 s.u.cuts, s.drops, s.sent);
  g_assert_cmpuint(s.u.cuts, >=, 1);
  g_assert_cmpuint(s.u.estimate_bps, >, 0);
  reset_counts(&s);
  run(&s, 110);
  double queue_ms = s.queue_ms_sum / MAX(s.queue_samples, 1), used = (double)s.came_sum / (double)s.came_seconds;
  g_test_message("128 kbit/s, next 110 s: cap %" G_GUINT64_FORMAT ", %u cuts, %u of %u dropped, queue %.1f ms on "
                 "average, %.0f bit/s came", s.cap_bps, s.u.cuts, s.drops, s.sent, queue_ms, used);
  g_assert_cmpuint(s.drops * 100, <=, s.sent); /* at most 1 %; without the estimate, about 15 % */
  g_assert_cmpfloat(queue_ms, <, 120); /* without: 321 ms */
  g_assert_cmpfloat(used, >=, 0.7 * 128000);
  g_rand_free(s.rand);
}

static void test_a_link_that_does_not(void) {
  check_capped(0, 2);
}

/* The same across abs-send-time's wrap (64 s): the sender's clock starts a second before it. */
static void test_across_the_wrap(void) {
  check_capped(0xFFFFFF - (1 << 18), 3);
  sim s;
  sim_init(&s, 256000, 4, 0xFFFFFF - (1 << 18), 0);
  run(&s, 80);
  g_assert_cmpuint(s.u.cuts, ==, 0);
  g_rand_free(s.rand);
}

/* Without the estimate the same link stands full: what the test above is measured against. */
static void test_without_it_the_queue_stands(void) {
  sim s;
  sim_init(&s, 128000, 2, 0, 10000);
  s.without = true;
  run(&s, 60);
  uint64_t drops = s.drops, sent = s.sent;
  g_test_message("128 kbit/s without it: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                 " dropped, queue %.1f ms on average", drops, sent, s.queue_ms_sum / MAX(s.queue_samples, 1));
  g_assert_cmpuint(drops * 100, >, 5 * sent);
  g_rand_free(s.rand);
}

/* A link that narrows and widens again: capped at 128 kbit/s, then the estimate grows back to
 * the loss controller's 150 kbit/s within half a minute of the link going to 512. */
static void test_found_again(void) {
  sim s;
  sim_init(&s, 128000, 5, 0, 10000);
  run(&s, 30);
  g_assert_cmpuint(s.u.cuts, >=, 1);
  s.link_bps = 512000;
  run(&s, 30);
  g_test_message("after the link widened: estimate %" G_GUINT64_FORMAT ", cap %" G_GUINT64_FORMAT, s.u.estimate_bps,
                 s.cap_bps);
  g_assert_cmpuint(s.cap_bps, ==, CAP_BPS);
  g_rand_free(s.rand);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/uplink-video/a-link-that-carries-it", test_a_link_that_carries_it);
  g_test_add_func("/uplink-video/a-link-that-does-not", test_a_link_that_does_not);
  g_test_add_func("/uplink-video/across-the-wrap", test_across_the_wrap);
  g_test_add_func("/uplink-video/without-it-the-queue-stands", test_without_it_the_queue_stands);
  g_test_add_func("/uplink-video/found-again", test_found_again);
  return g_test_run();
}
