/* The pacer: a key frame's burst leaves at the rate, audio takes its share, a full ring
 * refuses and counts, and what goes in comes out byte for byte, in order, across the
 * ring's wrap and its growth. Simulated time. */
#include <glib.h>
#include <string.h>

#include "media/pacer.h"

/* Pops everything, following the wake times; returns when the last packet left. Audio of
 * audio_len bytes is consumed every 20 ms when audio_len > 0. */
static uint64_t drain(dc_pacer *p, uint64_t now, size_t audio_len, int *n_out, uint64_t *first_gap) {
  uint8_t out[1500];
  uint64_t wake = now, last = now, next_audio = now, prev = 0;
  *n_out = 0;
  for (int guard = 0; guard < 100000; guard++) {
    if (audio_len && next_audio <= now) {
      dc_pacer_consume(p, audio_len, now);
      next_audio += 20000;
    }
    size_t len = dc_pacer_pop(p, now, out, sizeof out, &wake);
    if (len) {
      if (*n_out == 4 && first_gap)
        *first_gap = now - prev;
      prev = now;
      last = now;
      (*n_out)++;
      continue;
    }
    if (!wake)
      return last;
    now = audio_len ? MIN(wake, next_audio) : wake;
  }
  g_assert_not_reached();
}

static void test_keyframe_burst_paced(void) {
  dc_pacer *p = dc_pacer_new(64 * 1024);
  dc_pacer_set_rate(p, 150000, 1000000);
  uint8_t pkt[1200] = {0};
  for (int i = 0; i < 25; i++)
    g_assert_true(dc_pacer_push(p, pkt, sizeof pkt, 1000000));
  int n;
  uint64_t gap = 0, last = drain(p, 1000000, 0, &n, &gap);
  double seconds = (last - 1000000) / 1e6;
  /* 25 × 1200 B at 150 kbit/s: 1.6 s, less the first burst's 24 kbit */
  g_test_message("25 packets of 1200 B at 150 kbit/s left over %.3f s, %.1f ms apart", seconds, gap / 1e3);
  g_assert_cmpint(n, ==, 25);
  g_assert_cmpfloat(seconds, >, 1.42);
  g_assert_cmpfloat(seconds, <, 1.46);
  g_assert_cmpfloat(gap / 1e3, >, 60);
  g_assert_cmpfloat(gap / 1e3, <, 70);
  dc_pacer_free(p);
}

static void test_audio_takes_its_share(void) {
  dc_pacer *p = dc_pacer_new(64 * 1024);
  dc_pacer_set_rate(p, 150000, 0);
  uint8_t pkt[1200] = {0};
  for (int i = 0; i < 25; i++)
    dc_pacer_push(p, pkt, sizeof pkt, 0);
  int n;
  uint64_t last = drain(p, 0, 125, &n, NULL); /* 50 kbit/s of audio beside it */
  g_test_message("with 50 kbit/s of audio: video left over %.3f s (alone: 1.44 s)", last / 1e6);
  g_assert_cmpint(n, ==, 25);
  g_assert_cmpfloat(last / 1e6, >, 2.1); /* 216 kbit after the first burst, at 100 kbit/s */
  g_assert_cmpfloat(last / 1e6, <, 2.3);
  dc_pacer_free(p);
}

static void test_full_ring_refuses(void) {
  dc_pacer *p = dc_pacer_new(8000);
  uint8_t pkt[1000] = {0};
  int taken = 0;
  for (int i = 0; i < 10; i++)
    taken += dc_pacer_push(p, pkt, sizeof pkt, 0);
  g_assert_cmpint(taken, ==, 7); /* 7 × 1002 B fit in 8000 */
  dc_pacer_stats st = dc_pacer_get_stats(p);
  g_assert_cmpuint(st.dropped, ==, 3);
  g_assert_cmpuint(st.queued_packets, ==, 7);
  g_assert_cmpuint(st.queued_bytes, ==, 7000);
  /* a packet too long for the caller's buffer is dropped, not stuck at the head */
  uint8_t small[100];
  uint64_t wake;
  dc_pacer_set_rate(p, 100000000, 0);
  g_assert_cmpuint(dc_pacer_pop(p, 1000, small, sizeof small, &wake), ==, 0);
  g_assert_cmpuint(dc_pacer_get_stats(p).dropped, ==, 10);
  g_assert_cmpuint(wake, ==, 0);
  g_assert_false(dc_pacer_push(p, pkt, 0, 0));
  dc_pacer_free(p);
}

static void test_bytes_in_order_across_wrap(void) {
  dc_pacer *p = dc_pacer_new(5000);
  dc_pacer_set_rate(p, 1000000000, 0);
  GRand *r = g_rand_new_with_seed(3);
  uint32_t next_in = 0, next_out = 0;
  uint64_t now = 0;
  for (int round = 0; round < 20000; round++, now += 10) {
    uint8_t pkt[1500], out[1500];
    if (g_rand_boolean(r)) {
      size_t len = (size_t)g_rand_int_range(r, 4, 1400);
      for (size_t i = 0; i < len; i++)
        pkt[i] = (uint8_t)(next_in * 31 + i);
      if (dc_pacer_push(p, pkt, len, now)) {
        memcpy(pkt, &next_in, 4);
        next_in++;
      }
    } else {
      uint64_t wake;
      size_t len = dc_pacer_pop(p, now, out, sizeof out, &wake);
      if (len) {
        for (size_t i = 4; i < len; i++)
          g_assert_cmpuint(out[i], ==, (uint8_t)(next_out * 31 + i));
        next_out++;
      }
    }
  }
  g_test_message("%u packets in, %u out in order", next_in, next_out);
  g_assert_cmpuint(next_out, >, 5000);
  g_rand_free(r);
  dc_pacer_free(p);
}

/* The ring starts small and grows only as deep as the queue gets, to its capacity and no
 * further, keeping every byte in order through growth with its head wrapped. */
static void test_grows_to_its_capacity(void) {
  const size_t capacity = 64 * 1024;
  dc_pacer *p = dc_pacer_new(capacity);
  dc_pacer_set_rate(p, 1000000000, 0);
  g_assert_cmpuint(dc_pacer_get_stats(p).ring_bytes, ==, DC_PACER_RING_START);
  GRand *r = g_rand_new_with_seed(7);
  uint32_t next_in = 0, next_out = 0;
  size_t rings[8], n_rings = 0, was = DC_PACER_RING_START;
  uint64_t now = 0;
  /* pops win at first (a shallow queue, wrapping the small ring many times), then pushes
   * win ever more often: the queue deepens and the ring doubles with its head anywhere */
  for (int round = 0; round < 40000; round++, now += 10) {
    uint8_t pkt[1500], out[1500];
    double push = round < 10000 ? 0.4 : 0.4 + (double)(round - 10000) / 60000.0;
    if (g_rand_double(r) < push) {
      size_t len = (size_t)g_rand_int_range(r, 4, 1400);
      memcpy(pkt, &next_in, 4);
      for (size_t i = 4; i < len; i++)
        pkt[i] = (uint8_t)(next_in * 31 + i);
      next_in += dc_pacer_push(p, pkt, len, now);
    } else {
      uint64_t wake;
      size_t len = dc_pacer_pop(p, now, out, sizeof out, &wake);
      if (len) {
        uint32_t seq;
        memcpy(&seq, out, 4);
        g_assert_cmpuint(seq, ==, next_out);
        for (size_t i = 4; i < len; i++)
          g_assert_cmpuint(out[i], ==, (uint8_t)(next_out * 31 + i));
        next_out++;
      }
    }
    dc_pacer_stats st = dc_pacer_get_stats(p);
    g_assert_cmpuint(st.ring_bytes, <=, capacity);
    g_assert_cmpuint(st.queued_bytes + 2 * st.queued_packets, <=, st.ring_bytes);
    if (st.ring_bytes != was && n_rings < G_N_ELEMENTS(rings))
      rings[n_rings++] = was = st.ring_bytes;
    if (round == 10000) /* the shallow part: it stayed small */
      g_assert_cmpuint(st.ring_bytes, <=, 4 * DC_PACER_RING_START);
  }
  dc_pacer_stats st = dc_pacer_get_stats(p);
  g_test_message("%u in, %u out in order; the ring grew %zu times to %zu B; %" G_GUINT64_FORMAT " refused",
                 next_in, next_out, n_rings, st.ring_bytes, st.dropped);
  g_assert_cmpuint(st.ring_bytes, ==, capacity); /* the deep end filled it */
  g_assert_cmpuint(st.dropped, >, 0);            /* and refused past it */
  g_assert_cmpuint(n_rings, >=, 4);              /* 4, 8, 16, 32, 64 KiB */
  g_rand_free(r);
  dc_pacer_free(p);
}

/* A backlog grows the ring; once empty and not grown for DC_PACER_SHRINK_US it goes back to
 * its start size (checked when a packet leaves or is admitted), and grows again for the next. */
static size_t fill_and_drain(dc_pacer *p, uint64_t *now, int packets) {
  uint8_t pkt[1200] = {0}, out[1500];
  for (int i = 0; i < packets; i++)
    g_assert_true(dc_pacer_push(p, pkt, sizeof pkt, *now));
  size_t grown = dc_pacer_get_stats(p).ring_bytes;
  for (int got = 0; got < packets; *now += 1000) {
    uint64_t wake;
    while (dc_pacer_pop(p, *now, out, sizeof out, &wake))
      got++;
  }
  return grown;
}

static void test_shrinks_when_idle(void) {
  dc_pacer *p = dc_pacer_new(256 * 1024);
  dc_pacer_set_rate(p, 10000000, 0);
  uint64_t now = 1000000;
  size_t grown = fill_and_drain(p, &now, 100); /* 120 KB: ~100 ms at 10 Mbit/s */
  g_test_message("a backlog of 100 packets grew the ring to %zu B", grown);
  g_assert_cmpuint(grown, >=, 100 * 1200);
  g_assert_cmpuint(dc_pacer_get_stats(p).ring_bytes, ==, grown); /* drained within the time: kept */
  now += DC_PACER_SHRINK_US;
  g_assert_true(dc_pacer_admit(p, 1200, true, now)); /* the next packet, long after */
  g_assert_cmpuint(dc_pacer_get_stats(p).ring_bytes, ==, DC_PACER_RING_START);
  now += 1000000;
  g_assert_cmpuint(fill_and_drain(p, &now, 100), ==, grown); /* grows again when needed */
  now += DC_PACER_SHRINK_US;
  uint8_t pkt[1200] = {0}, out[1500];
  uint64_t wake;
  g_assert_true(dc_pacer_push(p, pkt, sizeof pkt, now)); /* fits as it is: no growth */
  g_assert_cmpuint(dc_pacer_pop(p, now, out, sizeof out, &wake), ==, sizeof pkt);
  g_assert_cmpuint(dc_pacer_get_stats(p).ring_bytes, ==, DC_PACER_RING_START); /* emptied by a pop */
  dc_pacer_free(p);
}

/* The usual case goes straight through: nothing queued and budget left admits a packet (and
 * debits it); once the budget is spent, or a packet waits, the rest queue behind in order. */
static void test_admit_when_idle(void) {
  dc_pacer *p = dc_pacer_new(64 * 1024);
  dc_pacer_set_rate(p, 150000, 0);
  g_assert_true(dc_pacer_admit(p, 1200, true, 0));  /* the first burst: 24 kbit */
  g_assert_true(dc_pacer_admit(p, 1200, true, 0));
  g_assert_false(dc_pacer_admit(p, 1200, true, 0)); /* 4.8 kbit left */
  uint8_t pkt[1200] = {0}, out[1500];
  g_assert_true(dc_pacer_push(p, pkt, sizeof pkt, 0));
  uint64_t wake;
  g_assert_cmpuint(dc_pacer_pop(p, 0, out, sizeof out, &wake), ==, 0);
  g_assert_cmpuint(wake, ==, 32001); /* the 4.8 kbit missing, at 150 kbit/s */
  /* the budget is back, but a packet waits: a newcomer must not overtake it */
  g_assert_false(dc_pacer_admit(p, 100, true, 40000));
  g_assert_cmpuint(dc_pacer_pop(p, 40000, out, sizeof out, &wake), ==, sizeof pkt);
  g_assert_cmpuint(dc_pacer_get_stats(p).sent, ==, 3);
  dc_pacer_free(p);
}

/* The pacer's rate: 1.25 times the lower of the estimate and the REMB, but never below what
 * comes for the receiver or a running probe's rate. */
static void test_rate_follows_lower_of_estimate_and_remb(void) {
  /* a highland point on a 128 kbit/s link: estimate 150 (its profile), REMB 100 */
  g_assert_cmpuint(dc_pace_rate_bps(1.25, 150000, 100000, 90000, 0), ==, 125000);
  g_assert_cmpuint(dc_pace_rate_bps(1.25, 150000, 0, 90000, 0), ==, 187500);      /* no REMB */
  g_assert_cmpuint(dc_pace_rate_bps(1.25, 150000, 400000, 90000, 0), ==, 187500); /* a higher one */
  g_assert_cmpuint(dc_pace_rate_bps(1.25, 150000, 100000, 120000, 0), ==, 150000); /* what comes */
  g_assert_cmpuint(dc_pace_rate_bps(1.25, 150000, 100000, 90000, 160000), ==, 200000); /* a probe */
}


/* One line of a thin link: a packet put on it at t starts crossing when those before it
 * have crossed. Returns how long it waited. */
typedef struct {
  uint64_t free_at, bps;
} fifo_link;
static uint64_t link_put(fifo_link *l, size_t len, uint64_t t) {
  uint64_t start = MAX(t, l->free_at);
  l->free_at = start + (uint64_t)len * 8 * 1000000 / l->bps;
  return start - t;
}

typedef struct {
  uint64_t steady_worst; /* the longest an audio packet waited behind video, steady video */
  int audio, unhindered; /* audio packets, and those that waited not at all */
  int video_in, video_out;
  uint64_t silent_hold; /* the longest a video packet waited once the audio fell silent */
} thin_link_run;

/* A highland receiver's 128 kbit/s link, simulated a millisecond at a time for 4 s: 155 B of
 * audio every 60 ms, video of 600 B at 12 frames a second, a key frame of 8 × 1100 B at 2 s,
 * and the audio silent (DTX) from 3 s. keep_beat false: the pacer as before the beat. */
static thin_link_run thin_link(bool keep_beat) {
  thin_link_run r = {0};
  dc_pacer *p = dc_pacer_new(32 * 1024);
  fifo_link link = {0, 128000};
  uint8_t out[1500], pkt[1100] = {0};
  uint64_t pushed_at[64] = {0};
  for (uint64_t t = 1000000; t < 5000000; t += 1000) {
    dc_pacer_set_rate(p, 120000, t);
    if (t % 60000 == 0 && t < 3000000) { /* the mix's 60 ms beat */
      dc_pacer_consume(p, 155, t);
      uint64_t waited = link_put(&link, 155, t);
      if (t < 2000000)
        r.steady_worst = MAX(r.steady_worst, waited);
      r.audio++;
      r.unhindered += waited == 0;
      if (keep_beat)
        dc_pacer_keep_clear(p, t, 60000, 128000);
    }
    size_t want[8];
    int n_want = 0;
    if (t == 2000000)
      for (int i = 0; i < 8; i++)
        want[n_want++] = 1100;
    else if (t % 83000 == 0)
      want[n_want++] = 600;
    for (int i = 0; i < n_want; i++) {
      pushed_at[r.video_in++ % 64] = t;
      if (dc_pacer_admit(p, want[i], true, t))
        link_put(&link, want[i], t), r.video_out++;
      else
        g_assert_true(dc_pacer_push(p, pkt, want[i], t));
    }
    uint64_t wake;
    size_t len;
    while ((len = dc_pacer_pop(p, t, out, sizeof out, &wake)) > 0) {
      link_put(&link, len, t);
      if (t > 3600000) /* the key frame's queue long gone */
        r.silent_hold = MAX(r.silent_hold, t - pushed_at[r.video_out % 64]);
      r.video_out++;
    }
  }
  dc_pacer_free(p);
  return r;
}

/* With the audio's beat kept, steady video never holds an audio packet longer than the slack,
 * and the audio meets the link free more often; a key frame's queue still goes as paced (the
 * beat is not kept while it waits), so all the video leaves; silent audio keeps no beat. The
 * pacer without the beat is the check that the link's line holds the audio at all. */
static void test_keeps_the_link_clear_for_audio(void) {
  thin_link_run with = thin_link(true), without = thin_link(false);
  g_test_message("audio on 128 kbit/s beside steady video: longest wait %.1f ms with the beat kept, %.1f ms "
                 "without; audio packets that met the link free %d and %d of %d; video out %d and %d of %d; "
                 "video's longest hold once the audio fell silent %.1f ms",
                 with.steady_worst / 1e3, without.steady_worst / 1e3, with.unhindered, without.unhindered,
                 with.audio, with.video_out, without.video_out, with.video_in, with.silent_hold / 1e3);
  g_assert_cmpuint(with.steady_worst, <=, DC_PACER_AUDIO_SLACK_US);
  g_assert_cmpuint(without.steady_worst, >, 30000); /* a 600 B packet crosses in 37.5 ms */
  g_assert_cmpint(with.unhindered, >, without.unhindered);
  g_assert_cmpint(with.video_out, ==, with.video_in);
  g_assert_cmpuint(with.silent_hold, <, 100000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pacer/keyframe-burst-paced", test_keyframe_burst_paced);
  g_test_add_func("/pacer/rate-follows-the-lower-of-estimate-and-remb", test_rate_follows_lower_of_estimate_and_remb);
  g_test_add_func("/pacer/audio-takes-its-share", test_audio_takes_its_share);
  g_test_add_func("/pacer/full-ring-refuses", test_full_ring_refuses);
  g_test_add_func("/pacer/bytes-in-order-across-wrap", test_bytes_in_order_across_wrap);
  g_test_add_func("/pacer/admit-when-idle", test_admit_when_idle);
  g_test_add_func("/pacer/keeps-the-link-clear-for-audio", test_keeps_the_link_clear_for_audio);
  g_test_add_func("/pacer/grows-to-its-capacity", test_grows_to_its_capacity);
  g_test_add_func("/pacer/shrinks-when-idle", test_shrinks_when_idle);
  return g_test_run();
}
