/* Unit tests for the endpoint's own logic (endpoint/profile): profiles, join links, the
 * slot grid, the reconnect backoff and certificate pins. */
#include <gio/gio.h>
#include <string.h>

#include "endpoint/profile.h"

static void test_profiles(void) {
  const dc_profile *hall = dc_profile_find("hall"), *std = dc_profile_find("standard"),
                   *hl = dc_profile_find("highland");
  g_assert_nonnull(hall);
  g_assert_nonnull(std);
  g_assert_nonnull(hl);
  g_assert_null(dc_profile_find("HIGHLAND"));
  g_assert_null(dc_profile_find(""));
  g_assert_null(dc_profile_find(NULL));
  /* highland (issue 11): audio 12-16 kbit/s in 60 ms frames with FEC and DTX, video at most
   * 320x180 and 10 fps within about 100 kbit/s, one slot */
  g_assert_cmpint(hl->audio_bps, >=, 12000);
  g_assert_cmpint(hl->audio_bps, <=, 16000);
  g_assert_cmpint(hl->audio_frame_ms, ==, 60);
  g_assert_true(hl->audio_fec && hl->audio_dtx);
  g_assert_cmpint(hl->video_width, <=, 320);
  g_assert_cmpint(hl->video_height, <=, 180);
  g_assert_cmpint(hl->video_fps, <=, 10);
  g_assert_cmpint(hl->audio_bps + hl->video_bps, <=, 100000);
  g_assert_cmpint(hl->slots, ==, 1);
  /* the highland audio waits for a copy three packets after its frame (60 ms each) with
   * 80 ms for the link's jitter (the bridge's margin, media/mixer.h) until its loss is known,
   * and where the link loses in runs; once the loss is seen lone, for the copy in the next
   * packet; elsewhere 100 ms */
  g_assert_cmpint(hl->audio_wait_ms, ==, hl->audio_frame_ms + 80);
  g_assert_cmpint(hl->audio_wait_runs_ms, ==, 3 * hl->audio_frame_ms + 80);
  g_assert_cmpint(std->audio_wait_ms, ==, 100);
  g_assert_cmpint(hall->audio_wait_ms, ==, 100);
  g_assert_cmpint(std->audio_wait_runs_ms, ==, std->audio_wait_ms);
  g_assert_cmpint(hall->audio_wait_runs_ms, ==, hall->audio_wait_ms);
  /* the hall: up to 720p */
  g_assert_cmpint(hall->video_height, ==, 720);
  /* each step down asks for less */
  g_assert_cmpint(hall->video_bps, >, std->video_bps);
  g_assert_cmpint(std->video_bps, >, hl->video_bps);
  g_assert_cmpint(hall->audio_bps, >=, std->audio_bps);
  g_assert_cmpint(std->audio_bps, >, hl->audio_bps);
}

static void test_join_link(void) {
  dc_join_link l;
  GError *err = NULL;
  g_assert_true(dc_join_link_parse("https://10.0.0.1:8443/join?meeting=12&token=dc1.abc.def", &l, &err));
  g_assert_cmpstr(l.ws_url, ==, "wss://10.0.0.1:8443/ws");
  g_assert_cmpint(l.meeting, ==, 12);
  g_assert_cmpstr(l.token, ==, "dc1.abc.def");
  g_assert_cmpstr(l.host, ==, "10.0.0.1");
  g_assert_null(l.profile); /* a link without one: the endpoint's --profile or default */
  dc_join_link_clear(&l);
  g_assert_true(dc_join_link_parse("https://10.0.0.1:8443/join?meeting=12&token=x&profile=highland", &l, &err));
  g_assert_cmpstr(l.profile->name, ==, "highland");
  dc_join_link_clear(&l);
  g_assert_true(dc_join_link_parse("https://10.0.0.1:8443/join?meeting=12&token=x&profile=satellite", &l, &err));
  g_assert_null(l.profile); /* unknown: ignored, not a refusal */
  dc_join_link_clear(&l);
  g_assert_true(dc_join_link_parse("http://cau.huyen.vn/join?token=t&meeting=3&autojoin=1", &l, &err));
  g_assert_cmpstr(l.ws_url, ==, "ws://cau.huyen.vn/ws");
  g_assert_cmpint(l.meeting, ==, 3);
  dc_join_link_clear(&l);
  g_assert_true(dc_join_link_parse("https://[fd00::1]:8443/join?meeting=1&token=x", &l, &err));
  g_assert_cmpstr(l.ws_url, ==, "wss://[fd00::1]:8443/ws");
  dc_join_link_clear(&l);
  /* the token in the fragment, as the bridge makes links now (issue 16), with more after it */
  g_assert_true(dc_join_link_parse("https://10.0.0.1:8443/join?meeting=12&profile=highland#token=dc1.abc.def&slots=1", &l, &err));
  g_assert_cmpstr(l.token, ==, "dc1.abc.def");
  g_assert_cmpint(l.meeting, ==, 12);
  g_assert_cmpstr(l.profile->name, ==, "highland");
  dc_join_link_clear(&l);
  /* all of it in the fragment, as the bridge makes links now: one page URL for every meeting */
  g_assert_true(dc_join_link_parse("https://10.0.0.1:8443/join#meeting=7&profile=highland&token=dc1.abc.def", &l, &err));
  g_assert_cmpint(l.meeting, ==, 7);
  g_assert_cmpstr(l.token, ==, "dc1.abc.def");
  g_assert_cmpstr(l.profile->name, ==, "highland");
  g_assert_cmpstr(l.ws_url, ==, "wss://10.0.0.1:8443/ws");
  dc_join_link_clear(&l);
  /* the fragment's values win over the query's, as on the page */
  g_assert_true(dc_join_link_parse("https://a/join?meeting=1&token=old#meeting=2&token=new", &l, &err));
  g_assert_cmpint(l.meeting, ==, 2);
  g_assert_cmpstr(l.token, ==, "new");
  dc_join_link_clear(&l);

  const char *bad[] = {"", "join", "ftp://a/join?meeting=1&token=x", "https://a/other?meeting=1&token=x",
                       "https://a/join", "https://a/join?meeting=0&token=x", "https://a/join?meeting=x&token=x",
                       "https://a/join?meeting=1", "https://a/join?meeting=1&token=", "https:///join?meeting=1&token=x",
                       "https://a/join?meeting=1#token=", "https://a/join#meeting=1", "https://a/join#token=x",
                       "https://a/join#", "https://a/other#meeting=1&token=x", "https://a/join#meeting=-1&token=x"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(dc_join_link_parse(bad[i], &l, &err));
    g_assert_nonnull(err);
    g_assert_null(l.ws_url);
    g_test_message("%s -> %s", bad[i], err->message);
    g_clear_error(&err);
  }
}

static bool overlap(const dc_tile *a, const dc_tile *b) {
  return a->x < b->x + b->width && b->x < a->x + a->width && a->y < b->y + b->height && b->y < a->y + a->height;
}

static void test_grid(void) {
  for (int n = 1; n <= 9; n++) {
    dc_tile t[9];
    dc_grid_layout(n, 1280, 720, t);
    for (int i = 0; i < n; i++) {
      g_assert_cmpint(t[i].x, >=, 0);
      g_assert_cmpint(t[i].y, >=, 0);
      g_assert_cmpint(t[i].width, >, 0);
      g_assert_cmpint(t[i].height, >, 0);
      g_assert_cmpint(t[i].x + t[i].width, <=, 1280);
      g_assert_cmpint(t[i].y + t[i].height, <=, 720);
      if (i > 0) /* the main slot is the largest */
        g_assert_cmpint(t[i].width * t[i].height, <, t[0].width * t[0].height);
      for (int k = 0; k < i; k++)
        g_assert_false(overlap(&t[i], &t[k]));
    }
  }
  dc_tile one;
  dc_grid_layout(1, 1280, 720, &one);
  g_assert_cmpint(one.width, ==, 1280);
  g_assert_cmpint(one.height, ==, 720);
}

static void test_backoff(void) {
  /* the first retry within a second; never more than max (+20 %); it grows */
  g_assert_cmpuint(dc_backoff_ms(0, 2000, 0.5), ==, 500);
  g_assert_cmpuint(dc_backoff_ms(1, 2000, 0.5), ==, 1000);
  g_assert_cmpuint(dc_backoff_ms(2, 2000, 0.5), ==, 2000);
  for (unsigned a = 0; a < 1000; a += 7) {
    g_assert_cmpuint(dc_backoff_ms(a, 2000, 1.0), <=, 2400);
    g_assert_cmpuint(dc_backoff_ms(a, 2000, 0.0), >=, 400);
  }
  g_assert_cmpuint(dc_backoff_ms(G_MAXUINT, 2000, 0.5), ==, 2000); /* no overflow */
  /* jitter spreads thirty boxes over a window */
  g_assert_cmpuint(dc_backoff_ms(5, 2000, 0.0), <, dc_backoff_ms(5, 2000, 1.0));
}

static void test_pins(void) {
  const char *fp = "AB:CD:01";
  g_assert_true(dc_fingerprint_matches("AB:CD:01", fp));
  g_assert_true(dc_fingerprint_matches("abcd01", fp));
  g_assert_true(dc_fingerprint_matches("ab:cd:01", fp));
  g_assert_false(dc_fingerprint_matches("ABCD", fp));
  g_assert_false(dc_fingerprint_matches("ABCD0102", fp));
  g_assert_false(dc_fingerprint_matches("", fp));
  g_assert_false(dc_fingerprint_matches(NULL, fp));
  g_assert_false(dc_fingerprint_matches("AB:CD:02", fp));
}

/* Simulcast layers: lowest first, the top one the profile's own, the lowest fitting a
 * highland receiver; profiles without simulcast have one. */
static void test_layers(void) {
  const dc_profile *hall = dc_profile_find("hall"), *hl = dc_profile_find("highland");
  g_assert_cmpint(hall->layers, ==, 3);
  g_assert_cmpint(hl->layers, ==, 1);
  g_assert_cmpint(dc_profile_find("standard")->layers, ==, 1);
  dc_layer low = dc_profile_layer(hall, 0), top = dc_profile_layer(hall, hall->layers - 1);
  g_assert_cmpint(top.width, ==, hall->video_width);
  g_assert_cmpint(top.bps, ==, hall->video_bps);
  g_assert_cmpint(low.width, <=, hl->video_width);
  g_assert_cmpint(low.bps, <=, hl->video_bps);
  for (int i = 1; i < hall->layers; i++) {
    g_assert_cmpint(dc_profile_layer(hall, i).width, >, dc_profile_layer(hall, i - 1).width);
    g_assert_cmpint(dc_profile_layer(hall, i).bps, >, dc_profile_layer(hall, i - 1).bps);
  }
  g_assert_cmpint(dc_profile_layer(hl, 0).width, ==, hl->video_width);
  g_assert_cmpint(dc_profile_layer(hall, 99).width, ==, top.width); /* out of range: clamped */
}

/* Feeds a stream of 60 ms packets numbered from 65500 (through the wrap), losing those
 * lose(i) says, from a start at 0 us; whether runs were found, and the gaps counted. */
/* When the loss was first seen lone (dc_loss_runs_seen_lone after each packet), in packets
 * from the start; -1: never. */
static int seen_lone_at;
static bool runs_in(bool (*lose)(unsigned), unsigned packets, unsigned *gaps, bool late_copy) {
  dc_loss_runs r = {0};
  seen_lone_at = -1;
  for (unsigned i = 0; i < packets; i++) {
    if (lose(i))
      continue;
    dc_loss_runs_packet(&r, (uint16_t)(65500u + i), (int64_t)i * 60000);
    if (late_copy && i > 0 && lose(i - 1)) /* the lost one, late: its gap was shorter */
      dc_loss_runs_packet(&r, (uint16_t)(65500u + i - 1), (int64_t)i * 60000);
    if (seen_lone_at < 0 && dc_loss_runs_seen_lone(&r, (int64_t)i * 60000))
      seen_lone_at = (int)i;
  }
  *gaps = r.gaps;
  return dc_loss_runs_found(&r);
}
static bool none(unsigned i) { return (void)i, false; }
static bool every_five_s(unsigned i) { return i % 83 == 40; }           /* 3 gaps in 15 s */
static bool one_then_two(unsigned i) { return i % 20 == 5 || i % 20 == 15 || i % 20 == 16; } /* 1.5 a gap */
static bool every_tenth(unsigned i) { return i % 10 == 5; }
static bool three_of_ten(unsigned i) { return i % 10 >= 5 && i % 10 < 8; }
static bool two_of_ten(unsigned i) { return i % 10 >= 5 && i % 10 < 7; }
static bool early_runs_only(unsigned i) { return i < 150 && i % 10 < 4; } /* the first 9 s */
static bool outages(unsigned i) { return i % 100 >= 50 && i % 100 < 90; } /* 40 packets: 2.4 s */

/* A radio link's fades from random loss (the highland endpoint waits longer for the former). */
static void test_loss_runs(void) {
  unsigned gaps;
  g_assert_false(runs_in(every_tenth, 1000, &gaps, false)); /* lone losses: 1 a gap */
  g_assert_cmpuint(gaps, >=, DC_LOSS_RUNS_MIN);
  /* seen lone once counted 15 s from the 10 s settle: the first packet from 25 s */
  g_assert_cmpint(seen_lone_at, ==, (DC_LOSS_RUNS_SETTLE_US + DC_LOSS_RUNS_JUDGE_US + 59999) / 60000);
  g_assert_false(runs_in(none, 1000, &gaps, false));
  g_assert_cmpint(seen_lone_at, ==, (DC_LOSS_RUNS_SETTLE_US + DC_LOSS_RUNS_JUDGE_US + 59999) / 60000);
  g_assert_false(runs_in(every_tenth, 400, &gaps, false)); /* 24 s: not yet */
  g_assert_cmpint(seen_lone_at, ==, -1);
  /* too few gaps to tell, or lone on average but not clearly: counted 30 s, from 40 s */
  const int later = (DC_LOSS_RUNS_SETTLE_US + 2 * DC_LOSS_RUNS_JUDGE_US + 59999) / 60000;
  g_assert_false(runs_in(every_five_s, 1000, &gaps, false));
  g_assert_cmpint(seen_lone_at, ==, later);
  g_assert_false(runs_in(one_then_two, 1000, &gaps, false));
  g_assert_cmpuint(gaps, >=, DC_LOSS_RUNS_LONE_MIN);
  g_assert_cmpint(seen_lone_at, ==, later);
  g_assert_true(runs_in(three_of_ten, 1000, &gaps, false));
  g_assert_cmpint(seen_lone_at, ==, -1); /* found before it could be */
  g_assert_true(runs_in(two_of_ten, 1000, &gaps, false)); /* 2 a gap: over 1.6 */
  /* the first 10 s are not counted (a thin link's queue full of the join), only then */
  g_assert_false(runs_in(early_runs_only, 1000, &gaps, false));
  g_assert_cmpuint(gaps, ==, 0);
  g_assert_false(runs_in(three_of_ten, 200, &gaps, false)); /* 12 s: its last 2 s counted, 4 gaps */
  g_assert_cmpuint(gaps, ==, 4);
  g_assert_true(runs_in(three_of_ten, 240, &gaps, false)); /* 14.4 s: 8 gaps */
  /* outages are not fades */
  g_assert_false(runs_in(outages, 2000, &gaps, false));
  g_assert_cmpuint(gaps, ==, 0);
  /* a packet that comes late shortens the gap it was counted in: runs of two, each with its
   * first packet late, are gaps of one */
  g_assert_false(runs_in(two_of_ten, 1000, &gaps, true));
}

/* Starts of 120 s on a link losing loss_percent: at random (burst 0), or in fades of `burst`
 * packets on average (Gilbert-Elliott: a fade starts with the chance that gives that loss, and
 * ends with 1/burst each packet). The share of starts whose loss was taken for lone before any
 * runs were found, and the mean time that was, in seconds from the first packet. */
static double lone_share(GRand *rng, double loss_percent, double burst, int starts, double *mean_s) {
  double loss = loss_percent / 100, end_fade = burst > 0 ? 1 / burst : 0,
         begin_fade = burst > 0 ? loss * end_fade / (1 - loss) : 0;
  int lone = 0;
  double sum = 0;
  for (int n = 0; n < starts; n++) {
    dc_loss_runs r = {0};
    bool fading = false;
    for (unsigned i = 0; i < 2000; i++) {
      if (burst > 0)
        fading = g_rand_double(rng) < (fading ? 1 - end_fade : begin_fade);
      if (burst > 0 ? fading : g_rand_double(rng) < loss)
        continue;
      dc_loss_runs_packet(&r, (uint16_t)i, (int64_t)i * 60000);
      if (dc_loss_runs_found(&r))
        break;
      if (dc_loss_runs_seen_lone(&r, (int64_t)i * 60000)) {
        lone++, sum += i * 0.06;
        break;
      }
    }
  }
  *mean_s = lone ? sum / lone : 0;
  return (double)lone / starts;
}

/* What profile.h says of the reading on a radio link and on random loss, seeded. */
static void test_loss_runs_simulated(void) {
  GRand *rng = g_rand_new_with_seed(12);
  const struct { double loss, burst, least, most; } links[] = {
      {0, 0, 1, 1}, {5, 0, 0.97, 1}, {10, 0, 0.95, 1}, {15, 0, 0.90, 1}, /* random: lowered */
      {10, 3, 0, 0.02}, {10, 2, 0, 0.06}, {5, 3, 0, 0.25},               /* fades: kept */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
    double mean_s, share = lone_share(rng, links[i].loss, links[i].burst, 1000, &mean_s);
    char *how = links[i].burst > 0 ? g_strdup_printf("in fades of %.0f on average", links[i].burst) : g_strdup("at random");
    g_test_message("%.0f %% lost %s: taken for lone in %.1f %% of starts, %.1f s in on average", links[i].loss, how,
                   100 * share, mean_s);
    g_free(how);
    g_assert_cmpfloat(share, >=, links[i].least);
    g_assert_cmpfloat(share, <=, links[i].most);
    if (share > 0)
      g_assert_cmpfloat(mean_s, <=, (DC_LOSS_RUNS_SETTLE_US + 2 * DC_LOSS_RUNS_JUDGE_US) / 1e6 + 0.06);
  }
  g_rand_free(rng);
}

/* 60 ms packets of a 48 kHz clock from first_ts, n of them, each delayed base_ms plus a
 * uniform 0..jitter_ms (FIFO or not, as the flag says), the first at 0. */
static dc_delay_spread spread_of(GRand *rng, uint32_t first_ts, int n, double jitter_ms, bool reorder) {
  dc_delay_spread s = {0};
  int64_t last_arrival = 0;
  for (int i = 0; i < n; i++) {
    int64_t sent = (int64_t)i * 60000, arrival = sent + 300000 + (int64_t)(g_rand_double(rng) * jitter_ms * 1000);
    if (!reorder)
      arrival = MAX(arrival, last_arrival);
    last_arrival = arrival;
    dc_delay_spread_packet(&s, first_ts + (uint32_t)i * 2880u, 48000, arrival);
  }
  return s;
}

/* The shorter wait follows how late the mix's packets come (profile.h). */
static void test_delay_spread(void) {
  const dc_profile *hl = dc_profile_find("highland");
  GRand *rng = g_rand_new_with_seed(12);
  int settle = (int)(DC_LOSS_RUNS_SETTLE_US / 60000) + 1;
  /* not known before the settling and DC_DELAY_SPREAD_MIN packets after it: the profile's */
  dc_delay_spread s = spread_of(rng, 1000, settle + DC_DELAY_SPREAD_MIN - 2, 0, false);
  g_assert_cmpint(dc_delay_spread_ms(&s), ==, -1);
  g_assert_cmpint(dc_profile_lone_wait_ms(hl, -1), ==, hl->audio_wait_ms);
  /* no jitter: the frame and the margin (the hall's LAN: 80 where it was 140) */
  s = spread_of(rng, 1000, settle + DC_DELAY_SPREAD_MIN + 1, 0, false);
  g_assert_cmpint(dc_delay_spread_ms(&s), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_ms(hl, 0), ==, 80);
  /* the link lab's audio-32k, ±20 ms: 40 ms of spread or a little less, waiting 120; across
   * the RTP time's wrap, in order or not */
  for (int reorder = 0; reorder < 2; reorder++) {
    s = spread_of(rng, 0xFFFFFFFFu - 100000, settle + 500, 40, reorder);
    int spread = dc_delay_spread_ms(&s);
    g_test_message("uniform 40 ms of jitter%s: spread %d ms, waits %d ms", reorder ? " reordering" : "", spread,
                   dc_profile_lone_wait_ms(hl, spread));
    g_assert_cmpint(spread, >=, 36);
    g_assert_cmpint(spread, <=, 40);
    g_assert_cmpint(dc_profile_lone_wait_ms(hl, spread), ==, 120);
  }
  /* a full or jittery link waits no longer than the profile's (140: README, the link lab) */
  g_assert_cmpint(dc_profile_lone_wait_ms(hl, 80), ==, hl->audio_wait_ms);
  g_assert_cmpint(dc_profile_lone_wait_ms(hl, 2000), ==, hl->audio_wait_ms);
  /* the last DC_DELAY_SPREAD_KEPT packets count: jitter that ended is forgotten */
  s = spread_of(rng, 5, settle + 300, 200, false);
  for (int i = 0; i < DC_DELAY_SPREAD_KEPT; i++)
    dc_delay_spread_packet(&s, 5 + (uint32_t)(settle + 300 + i) * 2880u, 48000, (int64_t)(settle + 300 + i) * 60000 + 500000);
  g_assert_cmpint(dc_delay_spread_ms(&s), ==, 0);
  /* raised when the packets come 20 ms later or more than the wait allowed for; hall and
   * standard (20 ms frames, 100 ms until the loss is known) the same way */
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 80, 10), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 80, 19), ==, 100);
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 100, 15), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 120, 500), ==, 140);
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 130, 500), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_raised(hl, 80, -1), ==, 0);
  const dc_profile *hall = dc_profile_find("hall");
  g_assert_cmpint(dc_profile_lone_wait_ms(hall, 8), ==, 50);
  g_assert_cmpint(dc_profile_lone_wait_ms(hall, 300), ==, 100);
  g_assert_cmpint(dc_profile_lone_wait_raised(hall, 50, 30), ==, 70);
  /* lowered again when they ask DC_WAIT_LOWER_MS less or more: a raise's step back is not */
  g_assert_cmpint(dc_profile_lone_wait_lowered(hall, 100, 8), ==, 50);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hall, 70, 30), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hall, 70, 8), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hall, 80, 8), ==, 50);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hl, 140, 40), ==, 0);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hl, 140, 20), ==, 100);
  g_assert_cmpint(dc_profile_lone_wait_lowered(hl, 140, -1), ==, 0);
  for (int wait = 50; wait <= hl->audio_wait_ms; wait += 10) /* no spread both raises and lowers */
    for (int spread = 0; spread <= 200; spread++) {
      int up = dc_profile_lone_wait_raised(hl, wait, spread), down = dc_profile_lone_wait_lowered(hl, wait, spread);
      g_assert_true(!up || !down);
      g_assert_true(!up || dc_profile_lone_wait_lowered(hl, up, spread) == 0); /* nor undoes its own change */
      g_assert_true(!down || dc_profile_lone_wait_raised(hl, down, spread) == 0);
    }
  /* a stream that begins again (its RTP time or SSRC new) is measured anew, not as packets
   * hours late; a queue that grows packet by packet is kept */
  s = spread_of(rng, 77, settle + 300, 10, false);
  int before = dc_delay_spread_ms(&s);
  g_assert_cmpint(before, <=, 10);
  int64_t at = (int64_t)(settle + 300) * 60000 + 300000;
  for (int i = 0; i < DC_DELAY_SPREAD_MIN - 1; i++)
    dc_delay_spread_packet(&s, 0x80000000u + (uint32_t)i * 2880u, 48000, at + (int64_t)i * 60000);
  g_assert_cmpint(dc_delay_spread_ms(&s), ==, -1);
  dc_delay_spread_packet(&s, 0x80000000u + (uint32_t)(DC_DELAY_SPREAD_MIN - 1) * 2880u, 48000,
                         at + (int64_t)(DC_DELAY_SPREAD_MIN - 1) * 60000);
  g_assert_cmpint(dc_delay_spread_ms(&s), ==, 0);
  s = spread_of(rng, 77, settle + 300, 0, false);
  at = (int64_t)(settle + 300) * 60000 + 300000;
  for (int i = 0; i < 200; i++) /* 10 ms later each packet: 2 s later after 200 */
    dc_delay_spread_packet(&s, 77 + (uint32_t)(settle + 300 + i) * 2880u, 48000, at + (int64_t)i * 70000);
  g_assert_cmpint(dc_delay_spread_ms(&s), >=, 1900);
  /* a clock rate of nothing is no packet */
  dc_delay_spread none = {0};
  dc_delay_spread_packet(&none, 1, 0, 1);
  g_assert_false(none.started);
  g_rand_free(rng);
}

/* A lone wait following the packets' lateness, as the playback does it (a played buffer every
 * 20 ms), for the highland profile's 60 ms packets that come jitter_ms late at most (uniform)
 * in the busy spells (from, to s; two at most, {0, 0} for none) and on time otherwise;
 * pause_from_s: the sound pauses from then on (0: never); judged_keeping: the loss was judged
 * lone at 0 s and the wait kept (dc_lone_wait_judged). Returns the waits it changed to, with
 * when, in *changes. */
typedef struct {
  double at_s;
  int wait_ms;
} wait_change;
typedef struct {
  double from_s, to_s;
} busy_spell;
static int follow_lone_wait(GRand *rng, int wait_ms, double seconds, const busy_spell busy[2], double jitter_ms,
                            double pause_from_s, bool judged_keeping, wait_change *changes, int max_changes) {
  const dc_profile *hl = dc_profile_find("highland");
  dc_delay_spread s = {0};
  dc_lone_wait w = {0};
  if (judged_keeping)
    dc_lone_wait_judged(&w, wait_ms, wait_ms);
  int n = 0;
  int64_t next_packet_us = 0;
  uint32_t ts = 12345;
  for (int64_t now = 0; now < (int64_t)(seconds * G_USEC_PER_SEC); now += 20000) {
    for (; next_packet_us <= now; next_packet_us += 60000, ts += 2880) {
      double t = next_packet_us / 1e6;
      bool in_spell = (t >= busy[0].from_s && t < busy[0].to_s) || (t >= busy[1].from_s && t < busy[1].to_s);
      int64_t late = in_spell ? (int64_t)(g_rand_double(rng) * jitter_ms * 1000) : 0;
      dc_delay_spread_packet(&s, ts, 48000, now + late); /* arrival order is not its concern */
    }
    bool pause = pause_from_s > 0 && now >= (int64_t)(pause_from_s * G_USEC_PER_SEC);
    int to = dc_lone_wait_follow(&w, hl, wait_ms, &s, now, pause);
    if (to && n < max_changes)
      changes[n++] = (wait_change){now / 1e6, to};
    if (to)
      wait_ms = to;
  }
  return n;
}

/* The lone wait rises at once when the packets come later and comes down again only after
 * they have come sooner for DC_WAIT_LOWER_HOLD_US, in a pause or DC_WAIT_PAUSE_AWAITED_US later. */
static void test_lone_wait_follows(void) {
  GRand *rng = g_rand_new_with_seed(15);
  wait_change c[8];
  /* 100 ms of jitter from 20 s to 40 s: 80 ms, raised to 140 within a second or two of the
   * spread knowing it; the window (256 packets, 15.4 s) forgets it by ~56 s, so it asks 80
   * from then; lowered 30 s later, in the pause that begins at 95 s */
  const busy_spell one[2] = {{20, 40}, {0, 0}};
  int n = follow_lone_wait(rng, 80, 130, one, 100, 95, false, c, 8);
  for (int i = 0; i < n; i++)
    g_test_message("busy 20-40 s, pause from 95 s: %d ms at %.2f s", c[i].wait_ms, c[i].at_s);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpint(c[0].wait_ms, ==, 140);
  g_assert_cmpfloat(c[0].at_s, >, 20);
  g_assert_cmpfloat(c[0].at_s, <, 24);
  g_assert_cmpint(c[1].wait_ms, ==, 80);
  g_assert_cmpfloat(c[1].at_s, >=, 95);
  g_assert_cmpfloat(c[1].at_s, <, 95.1);
  /* no pause: DC_WAIT_PAUSE_AWAITED_US after the hold */
  n = follow_lone_wait(rng, 80, 130, one, 100, 0, false, c, 8);
  g_assert_cmpint(n, ==, 2);
  g_test_message("no pause: down to %d ms at %.2f s", c[1].wait_ms, c[1].at_s);
  g_assert_cmpint(c[1].wait_ms, ==, 80);
  g_assert_cmpfloat(c[1].at_s, >, 54 + 40);
  g_assert_cmpfloat(c[1].at_s, <, 58 + 40);
  /* a pause before the hold is over changes nothing: the sound pauses from 60 s */
  n = follow_lone_wait(rng, 80, 130, one, 100, 60, false, c, 8);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpfloat(c[1].at_s, >, 54 + 30);
  g_assert_cmpfloat(c[1].at_s, <, 58 + 30);
  /* a second busy spell within the hold starts it again: busy 20-40 s and, seen from 60 s, at
   * 70-75 s; the second spell raises nothing (still 140), the lowering waits for its end */
  const busy_spell two[2] = {{20, 40}, {70, 75}};
  n = follow_lone_wait(rng, 80, 140, two, 100, 0.001, false, c, 8);
  g_test_message("busy 20-40 s and 70-75 s, always in a pause: lowered to %d ms at %.2f s", c[1].wait_ms, c[1].at_s);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpint(c[1].wait_ms, ==, 80);
  g_assert_cmpfloat(c[1].at_s, >, 89 + 30); /* the second spell leaves the window at ~90 s */
  g_assert_cmpfloat(c[1].at_s, <, 92 + 30);
  /* a wait the judgement kept (a stall in the window as the loss was judged: busy 10-15 s,
   * the first the spread counts) is lowered once the window forgets the stall (~31 s), in a
   * pause or 10 s later: not 30 s after that */
  const busy_spell judged[2] = {{10, 15}, {0, 0}};
  const double pauses_from[] = {0.001, 0};
  for (size_t i = 0; i < G_N_ELEMENTS(pauses_from); i++) {
    bool paused = pauses_from[i] > 0;
    double after_s = paused ? 29 : 39, by_s = after_s + 4;
    n = follow_lone_wait(rng, 140, 80, judged, 100, pauses_from[i], true, c, 8);
    g_test_message("kept by the judgement, %s: lowered to %d ms at %.2f s", paused ? "in a pause" : "no pause",
                   n ? c[0].wait_ms : 0, n ? c[0].at_s : 0);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpint(c[0].wait_ms, ==, 80);
    g_assert_cmpfloat(c[0].at_s, >, after_s);
    g_assert_cmpfloat(c[0].at_s, <, by_s);
  }
  /* once the wait changed, the hold is back: 100 kept, raised to 140 by the spell, lowered
   * 30 s after the window forgets it */
  n = follow_lone_wait(rng, 100, 80, judged, 100, 0.001, true, c, 8);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpint(c[0].wait_ms, ==, 140);
  g_assert_cmpint(c[1].wait_ms, ==, 80);
  g_assert_cmpfloat(c[1].at_s, >, 59);
  /* a small easing (120 asked of 140) is not worth a skip */
  const busy_spell all[2] = {{0, 60}, {0, 0}};
  n = follow_lone_wait(rng, 140, 60, all, 40, 1, false, c, 8);
  g_assert_cmpint(n, ==, 0);
  g_rand_free(rng);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/endpoint/profiles", test_profiles);
  g_test_add_func("/endpoint/join-link", test_join_link);
  g_test_add_func("/endpoint/grid", test_grid);
  g_test_add_func("/endpoint/backoff", test_backoff);
  g_test_add_func("/endpoint/pins", test_pins);
  g_test_add_func("/endpoint/layers", test_layers);
  g_test_add_func("/endpoint/loss-runs", test_loss_runs);
  g_test_add_func("/endpoint/loss-runs-simulated", test_loss_runs_simulated);
  g_test_add_func("/endpoint/delay-spread", test_delay_spread);
  g_test_add_func("/endpoint/lone-wait-follows", test_lone_wait_follows);
  return g_test_run();
}
