/* A talker's audio rate from its uplink's queue: a link that carries the rate never moves it
 * (jitter, pauses in DTX, a restarted stream); a link that does not is stepped down to the
 * first rate it carries and its queue drains; a step back up that overfills it again is tried
 * less and less often. The link is simulated: 60 ms packets (RED: each frame twice) through a
 * rate with a 500 ms tail-drop queue, 300 ms of delay and ±20 ms of jitter, seeded. */
#include <glib.h>

#include "media/uplink_audio.h"

static const uint32_t steps[] = {16000, 12000, 10000, 8000};

/* A talker (its controller, its clock, its RTP time) behind a simulated link. */
typedef struct {
  dc_uplink_audio u;
  uint64_t now;
  uint32_t ts;
  uint64_t link_bps;
  int64_t busy_until_us; /* when the link's queue empties */
  unsigned drops, changes, ups;
  int64_t last_queue_us;  /* queueing of the last packet that passed */
  int64_t path_us;        /* the link's delay beyond its queue (300 ms) */
  GRand *rand;
} sim;

/* Bytes on the wire of one 60 ms packet at a codec rate with RED's copy: IP, UDP, RTP, its
 * extensions, the SRTP tag and RED's headers (~73 bytes, as a browser's). */
static unsigned wire_bytes(uint32_t bps) {
  return 2 * (bps * 60 / 1000 / 8) + 73;
}

static void sim_init(sim *s, uint64_t bps, guint32 seed, uint32_t first_ts) {
  *s = (sim){.now = 1000000, .ts = first_ts, .link_bps = bps, .path_us = 300000, .rand = g_rand_new_with_seed(seed)};
  dc_uplink_audio_init(&s->u, steps, G_N_ELEMENTS(steps));
}

/* Runs seconds of the talker sending through the link; pause_from/to (s) leave a pause in DTX
 * (no packets). Returns the rate at the end. */
static uint32_t run(sim *s, double seconds, double pause_from, double pause_to) {
  uint64_t start = s->now;
  for (; s->now - start < (uint64_t)(seconds * 1e6); s->now += 60000, s->ts += 2880) {
    double at = (double)(s->now - start) / 1e6;
    if (at >= pause_from && at < pause_to)
      continue;
    int64_t send = (int64_t)s->now;
    int64_t service = (int64_t)wire_bytes(dc_uplink_audio_rate(&s->u)) * 8 * 1000000 / (int64_t)s->link_bps;
    int64_t begin = MAX(send, s->busy_until_us);
    if (begin - send > 500000) { /* the queue is full: dropped */
      s->drops++;
      continue;
    }
    s->busy_until_us = begin + service;
    s->last_queue_us = begin - send;
    uint64_t arrival = (uint64_t)(s->busy_until_us + s->path_us + g_rand_int_range(s->rand, -20000, 20001));
    uint32_t before = dc_uplink_audio_rate(&s->u);
    if (dc_uplink_audio_packet(&s->u, s->ts, arrival)) {
      s->changes++;
      if (dc_uplink_audio_rate(&s->u) > before)
        s->ups++;
    }
  }
  return dc_uplink_audio_rate(&s->u);
}

/* 64 kbit/s carries RED at 16 kbit/s (~42 on the wire): jitter and a pause change nothing. */
static void test_a_link_that_carries_it(void) {
  sim s;
  sim_init(&s, 64000, 1, 12345);
  uint32_t end = run(&s, 120, 40, 55);
  g_test_message("64 kbit/s: rate %u, %u changes, %u drops", end, s.changes, s.drops);
  g_assert_cmpuint(end, ==, 16000);
  g_assert_cmpuint(s.changes, ==, 0);
  g_assert_cmpuint(s.drops, ==, 0);
  g_rand_free(s.rand);
}

/* 32 kbit/s does not (it queues, then drops): the rate steps down to 10 kbit/s (~30 on the
 * wire), the first it carries, within seconds, and the queue drains; steps back up, each
 * overfilling the link again, come at most a few times in five minutes. */
static void test_a_link_that_does_not(void) {
  sim s;
  sim_init(&s, 32000, 2, 0xfffff000); /* its RTP time wraps on the way */
  uint32_t after10 = run(&s, 10, -1, -1);
  g_test_message("32 kbit/s: after 10 s rate %u, %u drops, queue %" G_GINT64_FORMAT " ms", after10, s.drops,
                 s.last_queue_us / 1000);
  g_assert_cmpuint(after10, <=, 10000);
  uint32_t end = run(&s, 290, -1, -1);
  g_test_message("after 300 s: rate %u, %u changes (%u up), %u drops in all, queue %" G_GINT64_FORMAT " ms", end,
                 s.changes, s.ups, s.drops, s.last_queue_us / 1000);
  g_assert_cmpuint(end, ==, 10000);
  g_assert_cmpint(s.last_queue_us, <, 100000);
  g_assert_cmpuint(s.ups, <=, 3);
  g_assert_cmpuint(s.changes, <=, 2 * s.ups + 2);
  g_rand_free(s.rand);
}

/* A link that became thin for a while (another user's download) and then wide again: the
 * rate goes down, and back up once the queue has been empty a while. */
static void test_comes_back_up(void) {
  sim s;
  sim_init(&s, 32000, 3, 7);
  g_assert_cmpuint(run(&s, 20, -1, -1), <, 16000);
  s.link_bps = 128000;
  uint32_t end = run(&s, 120, -1, -1);
  g_test_message("thin 20 s, then 128 kbit/s for 120 s: rate %u, %u changes", end, s.changes);
  g_assert_cmpuint(end, ==, 16000);
  g_rand_free(s.rand);
}

/* A talker silent for 40 s (DTX), and meanwhile its path took 200 ms longer (another route):
 * the floor from before the pause is not read as a queue (RTP time that moved over 10 s
 * starts the watch afresh). */
static void test_a_new_path_after_a_pause(void) {
  sim s;
  sim_init(&s, 64000, 4, 99);
  run(&s, 70, 30, 70);
  s.path_us += 200000;
  uint32_t end = run(&s, 30, -1, -1);
  g_test_message("64 kbit/s, 200 ms more delay after a 40 s pause: rate %u, %u changes", end, s.changes);
  g_assert_cmpuint(s.changes, ==, 0);
  g_rand_free(s.rand);
}

/* RTP time that leaps (a sender's new stream) starts the floor afresh rather than read the
 * leap as a queue; no steps configured: never a change. */
static void test_restart_and_none(void) {
  dc_uplink_audio u;
  dc_uplink_audio_init(&u, steps, G_N_ELEMENTS(steps));
  uint64_t now = 1000000;
  uint32_t ts = 0;
  for (int i = 0; i < 200; i++, now += 60000, ts += 2880) {
    if (i == 100)
      ts += 48000 * 3600; /* an hour ahead */
    g_assert_false(dc_uplink_audio_packet(&u, ts, now));
  }
  g_assert_cmpuint(dc_uplink_audio_rate(&u), ==, 16000);
  dc_uplink_audio none;
  dc_uplink_audio_init(&none, NULL, 0);
  for (int i = 0; i < 200; i++, now += 60000)
    g_assert_false(dc_uplink_audio_packet(&none, (uint32_t)i * 100000, now)); /* wildly late */
  g_assert_cmpuint(dc_uplink_audio_rate(&none), ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/uplink-audio/a-link-that-carries-it", test_a_link_that_carries_it);
  g_test_add_func("/uplink-audio/a-link-that-does-not", test_a_link_that_does_not);
  g_test_add_func("/uplink-audio/comes-back-up", test_comes_back_up);
  g_test_add_func("/uplink-audio/a-new-path-after-a-pause", test_a_new_path_after_a_pause);
  g_test_add_func("/uplink-audio/restart-and-none", test_restart_and_none);
  return g_test_run();
}
