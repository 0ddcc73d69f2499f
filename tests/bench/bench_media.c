/* bench_media — packets per second on one core for the media core's per-packet work:
 * RTP parse + header-extension read, and SRTP protect/unprotect through media/srtp (our
 * transforms on OpenSSL) beside a bare libsrtp2 loop (Debian's, on NSS) doing the same, in
 * the same run. With one session each; bench_mixer shows what thousands of sessions do. Then
 * protect over 1000 and 10 000 sessions in turn, cold and warmed ahead (bridge/worker.h).
 *
 * Run by hand: build/normal/tests/bench/bench_media [--rounds N] [--packets N]
 * Each figure is the best of N interleaved rounds (the machines are shared and noisy; the
 * best round is the one least disturbed). Both SRTP columns include the same memcpy of the
 * packet into a work buffer. Prints a table, then one JSON line. For instruction counts
 * that do not depend on load: valgrind --tool=callgrind build/normal/tests/bench/bench_media --rounds 1
 */
#include <glib.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "media/rtp.h"
#include "media/srtp.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t make_packet(uint8_t *buf, size_t total, uint16_t seq) {
  uint8_t level = 0x80 | 30, ast[3] = {1, 2, 3}, tw[2] = {0, 1}, mid[1] = {'0'};
  dc_rtp_ext_elem ext[] = {{1, 1, &level}, {2, 3, ast}, {3, 2, tw}, {4, 1, mid}};
  dc_rtp_header h = {.payload_type = 111, .seq = seq, .timestamp = seq * 960u, .ssrc = 0x1234};
  size_t n = dc_rtp_write_header(buf, total, &h, ext, 4);
  for (size_t i = n; i < total; i++)
    buf[i] = (uint8_t)i;
  return total;
}

static volatile uint64_t sink;

static double bench_parse(size_t size, unsigned packets) {
  uint8_t pkt[1500];
  make_packet(pkt, size, 1);
  dc_rtp_ext_ids ids = {.audio_level = 1, .abs_send_time = 2, .twcc = 3, .mid = 4};
  double t0 = now_s();
  for (unsigned i = 0; i < packets; i++) {
    dc_rtp p;
    dc_rtp_ext_values v;
    pkt[3] = (uint8_t)i;
    if (dc_rtp_parse(&p, pkt, size) == DC_OK) {
      dc_rtp_read_exts(&p, &ids, &v);
      sink += v.audio_level_dbov + v.twcc_seq + p.seq;
    }
  }
  return packets / (now_s() - t0);
}

static const uint8_t master[30] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

static srtp_t bare_session(dc_srtp_profile profile, bool inbound) {
  srtp_policy_t pol;
  memset(&pol, 0, sizeof pol);
  if (profile == DC_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
  }
  uint8_t key[30];
  memcpy(key, master, 16);
  memcpy(key + 16, master + 16, dc_srtp_salt_len(profile));
  pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
  pol.key = key;
  pol.window_size = 1024;
  pol.allow_repeat_tx = !inbound;
  srtp_t s;
  if (srtp_create(&s, &pol) != srtp_err_status_ok)
    g_error("srtp_create failed");
  return s;
}

typedef struct {
  double wrap_protect, bare_protect, wrap_unprotect, bare_unprotect;
} srtp_result;

/* One round of each of the four loops over the same packets. */
static void srtp_round(dc_srtp_profile profile, size_t size, unsigned packets, uint8_t **sealed,
                       size_t *sealed_len, srtp_result *best) {
  uint8_t work[1500 + DC_SRTP_MAX_TRAILER], plain[1500];
  make_packet(plain, size, 0);
  uint8_t mk[16], ms[14];
  memcpy(mk, master, 16);
  memcpy(ms, master + 16, 14);

  dc_srtp *w = dc_srtp_new(profile, mk, ms, DC_SRTP_OUTBOUND, NULL);
  double t0 = now_s();
  for (unsigned i = 0; i < packets; i++) {
    memcpy(work, plain, size);
    dc_rtp_set_seq(work, (uint16_t)i);
    size_t len = size;
    dc_srtp_protect(w, work, &len, sizeof work);
    sink += work[len - 1];
  }
  double r = packets / (now_s() - t0);
  best->wrap_protect = MAX(best->wrap_protect, r);
  dc_srtp_free(w);

  srtp_t b = bare_session(profile, false);
  t0 = now_s();
  for (unsigned i = 0; i < packets; i++) {
    memcpy(work, plain, size);
    dc_rtp_set_seq(work, (uint16_t)i);
    int len = (int)size;
    srtp_protect(b, work, &len);
    sink += work[len - 1];
  }
  r = packets / (now_s() - t0);
  best->bare_protect = MAX(best->bare_protect, r);
  srtp_dealloc(b);

  w = dc_srtp_new(profile, mk, ms, DC_SRTP_INBOUND, NULL);
  t0 = now_s();
  for (unsigned i = 0; i < packets; i++) {
    memcpy(work, sealed[i], sealed_len[i]);
    size_t len = sealed_len[i];
    if (dc_srtp_unprotect(w, work, &len) != DC_OK)
      g_error("unprotect failed");
    sink += work[len - 1];
  }
  r = packets / (now_s() - t0);
  best->wrap_unprotect = MAX(best->wrap_unprotect, r);
  dc_srtp_free(w);

  b = bare_session(profile, true);
  t0 = now_s();
  for (unsigned i = 0; i < packets; i++) {
    memcpy(work, sealed[i], sealed_len[i]);
    int len = (int)sealed_len[i];
    if (srtp_unprotect(b, work, &len) != srtp_err_status_ok)
      g_error("bare unprotect failed");
    sink += work[len - 1];
  }
  r = packets / (now_s() - t0);
  best->bare_unprotect = MAX(best->bare_unprotect, r);
  srtp_dealloc(b);
}

/* Many sessions in turn, as a bridge sends one tick's mix: a packet to each of n receivers'
 * sessions (in a shuffled order, as a worker's participants lie in memory), each session cold
 * again by its next turn. Warmed: dc_srtp_prefetch's stage 0 two sessions ahead and stage 1
 * one ahead, as bridge/worker.h's warming ahead does. Packets a second. */
static double bench_many_sessions(unsigned n, bool warm, unsigned packets) {
  uint8_t mk[16], ms[14];
  memcpy(mk, master, 16);
  memcpy(ms, master + 16, 14);
  dc_srtp **sessions = g_new(dc_srtp *, n);
  unsigned *order = g_new(unsigned, n);
  for (unsigned i = 0; i < n; i++) {
    sessions[i] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_OUTBOUND, NULL);
    order[i] = i;
  }
  GRand *rng = g_rand_new_with_seed(7);
  for (unsigned i = n - 1; i > 0; i--) {
    unsigned j = (unsigned)g_rand_int_range(rng, 0, (gint32)i + 1), t = order[i];
    order[i] = order[j], order[j] = t;
  }
  g_rand_free(rng);
  uint8_t base[160], buf[160 + DC_SRTP_MAX_TRAILER];
  make_packet(base, sizeof base, 0);
  unsigned rounds = MAX(packets / n, 2u);
  double t0 = now_s();
  for (unsigned r = 0; r < rounds; r++)
    for (unsigned i = 0; i < n; i++) {
      if (warm && i + 2 < n)
        dc_srtp_prefetch(sessions[order[i + 2]], 0);
      if (warm && i + 1 < n)
        dc_srtp_prefetch(sessions[order[i + 1]], 1);
      memcpy(buf, base, sizeof base);
      dc_wr16(buf + 2, (uint16_t)r);
      size_t len = sizeof base;
      sink += dc_srtp_protect(sessions[order[i]], buf, &len, sizeof buf);
    }
  double rate = (double)rounds * n / (now_s() - t0);
  for (unsigned i = 0; i < n; i++)
    dc_srtp_free(sessions[i]);
  g_free(sessions);
  g_free(order);
  return rate;
}

int main(int argc, char **argv) {
  int rounds = 7, packets = 60000;
  GOptionEntry entries[] = {
      {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "interleaved rounds (best is kept)", "N"},
      {"packets", 0, 0, G_OPTION_ARG_INT, &packets, "packets per loop (at most 65536)", "N"},
      G_OPTION_ENTRY_NULL};
  GOptionContext *ctx = g_option_context_new("- media core packet-rate benchmark");
  g_option_context_add_main_entries(ctx, entries, NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, NULL) || rounds < 1 || packets < 1 ||
      packets > 65536) {
    fprintf(stderr, "usage: bench_media [--rounds N] [--packets 1..65536]\n");
    return 2;
  }
  g_option_context_free(ctx);
  if (srtp_init() != srtp_err_status_ok) {
    fprintf(stderr, "srtp_init failed\n");
    return 1;
  }

  printf("%-46s %14s %14s %9s\n", "operation (one core)", "diemcau pkt/s", "libsrtp2 pkt/s", "vs libsrtp2");
  GString *json = g_string_new("{\"bench\":\"media\"");
  const size_t sizes[] = {160, 1200};
  for (int s = 0; s < 2; s++) {
    double best = 0;
    for (int r = 0; r < rounds; r++)
      best = MAX(best, bench_parse(sizes[s], (unsigned)packets * 10));
    printf("%-46s %14.0f %14s %9s\n",
           sizes[s] == 160 ? "RTP parse + ext read, 160 B" : "RTP parse + ext read, 1200 B", best,
           "-", "-");
    g_string_append_printf(json, ",\"rtp_parse_%zu\":%.0f", sizes[s], best);
  }
  const dc_srtp_profile profiles[] = {DC_SRTP_AEAD_AES_128_GCM, DC_SRTP_AES128_CM_SHA1_80};
  const char *short_names[] = {"gcm", "cm_sha1_80"};
  double worst_overhead = -1e9; /* the largest difference, however negative */
  for (int pi = 0; pi < 2; pi++)
    for (int s = 0; s < 2; s++) {
      /* Pre-seal the packets that the unprotect loops open. */
      uint8_t **sealed = g_new(uint8_t *, packets);
      size_t *sealed_len = g_new(size_t, packets);
      uint8_t mk[16], ms[14];
      memcpy(mk, master, 16);
      memcpy(ms, master + 16, 14);
      dc_srtp *out = dc_srtp_new(profiles[pi], mk, ms, DC_SRTP_OUTBOUND, NULL);
      for (int i = 0; i < packets; i++) {
        sealed[i] = g_malloc(1500 + DC_SRTP_MAX_TRAILER);
        sealed_len[i] = make_packet(sealed[i], sizes[s], (uint16_t)i);
        dc_srtp_protect(out, sealed[i], &sealed_len[i], 1500 + DC_SRTP_MAX_TRAILER);
      }
      dc_srtp_free(out);
      srtp_result best = {0};
      for (int r = 0; r < rounds; r++)
        srtp_round(profiles[pi], sizes[s], (unsigned)packets, sealed, sealed_len, &best);
      double op = 100.0 * (best.bare_protect / best.wrap_protect - 1);
      double ou = 100.0 * (best.bare_unprotect / best.wrap_unprotect - 1);
      worst_overhead = MAX(worst_overhead, MAX(op, ou));
      char label[64];
      snprintf(label, sizeof label, "SRTP protect, %s, %zu B", dc_srtp_profile_name(profiles[pi]), sizes[s]);
      printf("%-46s %14.0f %14.0f %8.1f%%\n", label, best.wrap_protect, best.bare_protect, op);
      snprintf(label, sizeof label, "SRTP unprotect, %s, %zu B", dc_srtp_profile_name(profiles[pi]), sizes[s]);
      printf("%-46s %14.0f %14.0f %8.1f%%\n", label, best.wrap_unprotect, best.bare_unprotect, ou);
      g_string_append_printf(json,
                             ",\"protect_%s_%zu\":%.0f,\"bare_protect_%s_%zu\":%.0f"
                             ",\"unprotect_%s_%zu\":%.0f,\"bare_unprotect_%s_%zu\":%.0f",
                             short_names[pi], sizes[s], best.wrap_protect, short_names[pi], sizes[s],
                             best.bare_protect, short_names[pi], sizes[s], best.wrap_unprotect,
                             short_names[pi], sizes[s], best.bare_unprotect);
      for (int i = 0; i < packets; i++)
        g_free(sealed[i]);
      g_free(sealed);
      g_free(sealed_len);
    }
  const unsigned many[] = {1000, 10000};
  for (int m = 0; m < 2; m++) {
    double cold = 0, warm = 0;
    for (int r = 0; r < rounds; r++) { /* interleaved, best of each */
      cold = MAX(cold, bench_many_sessions(many[m], false, (unsigned)packets * 4));
      warm = MAX(warm, bench_many_sessions(many[m], true, (unsigned)packets * 4));
    }
    char label[64];
    snprintf(label, sizeof label, "SRTP protect, GCM, 160 B, %u sessions in turn", many[m]);
    printf("%-46s %14.0f %14s %9s\n", label, cold, "-", "-");
    snprintf(label, sizeof label, "  the same, warmed ahead (dc_srtp_prefetch)");
    printf("%-46s %14.0f %14s %9s   %.2fx\n", label, warm, "-", "-", warm / cold);
    g_string_append_printf(json, ",\"protect_gcm_160_%u_sessions\":%.0f,\"protect_gcm_160_%u_sessions_warmed\":%.0f",
                           many[m], cold, many[m], warm);
  }
  printf("largest cost over bare libsrtp2 (negative: faster): %.1f%% (goal: under 5%%)\n", worst_overhead);
  g_string_append_printf(json, ",\"worst_overhead_pct\":%.2f}", worst_overhead);
  printf("%s\n", json->str);
  g_string_free(json, TRUE);
  return 0;
}
