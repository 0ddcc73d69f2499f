/* bench_router — the video router's per-packet cost, in process, on one core.
 *
 * One source's 1200-byte VP8 packets fan out to N receivers (10, 30, 100, 300), the way the
 * bridge forwards them: SRTP unprotect on the source's session, into the source's packet
 * cache, then per receiver a copy through its slot (media/router: SSRC, sequence number,
 * timestamp and PictureID rewritten) and SRTP protect on the receiver's own session. Both
 * SRTP profiles side by side. The thread hand-off between workers is left out: it is the
 * same for any router and bench_join measures the daemon end to end.
 *
 * Reported: forwarded packets per second (one per receiver per source packet), and the
 * added latency of each forwarded packet from the source packet's arrival to its protect
 * (p50, p99: the last receiver in a fan-out waits for the others). Goals from the router
 * issue: >= 300,000 forwarded packets per second per core with GCM; p99 < 1 ms at 30.
 * Memory per source (its cache holding a second of 2.5 Mbit/s) and per receiver slot.
 *
 * Usage: bench_router [--seconds S] (default 2 per row).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/repair.h"
#include "media/router.h"
#include "media/rtp.h"
#include "media/srtp.h"

#define PAYLOAD 1200

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* A VP8 packet: one-byte PictureID descriptor, key frame every 100 packets. */
static size_t make_packet(uint8_t *buf, uint16_t seq, uint16_t pid) {
  dc_rtp_header h = {.payload_type = 96, .seq = seq, .timestamp = seq * 300u, .ssrc = 0x5eed};
  size_t n = dc_rtp_write_header(buf, 64, &h, NULL, 0);
  uint8_t *p = buf + n;
  p[0] = 0x90;
  p[1] = 0x80;
  p[2] = (uint8_t)(0x80 | (pid >> 8));
  p[3] = (uint8_t)pid;
  p[4] = seq % 100 == 0 ? 0x50 : 0x51;
  memset(p + 5, 0xAB, PAYLOAD - 5);
  return n + PAYLOAD;
}

typedef struct {
  double mpps, p50_us, p99_us;
} result;

static result run(dc_srtp_profile profile, int receivers, double seconds) {
  uint8_t key[DC_SRTP_MAX_KEY], salt[DC_SRTP_MAX_SALT];
  memset(key, 7, sizeof key);
  memset(salt, 9, sizeof salt);
  dc_srtp *sender = dc_srtp_new(profile, key, salt, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *in = dc_srtp_new(profile, key, salt, DC_SRTP_INBOUND, NULL);
  dc_srtp **out = g_new(dc_srtp *, receivers);
  dc_slot *slots = g_new(dc_slot, receivers);
  for (int r = 0; r < receivers; r++) {
    key[0] = (uint8_t)r;
    out[r] = dc_srtp_new(profile, key, salt, DC_SRTP_OUTBOUND, NULL);
    dc_slot_init(&slots[r], 0x1000u + (uint32_t)r, 100);
    dc_slot_want(&slots[r], 1, 0);
  }
  dc_packet_cache *cache = dc_packet_cache_new(1000000, 1 << 20);
  /* The source's packets, protected ahead: the sender is not the router's cost. */
  enum { RING = 4096 };
  static uint8_t wire[RING][PAYLOAD + 64 + DC_SRTP_MAX_TRAILER];
  static size_t wire_len[RING];
  uint16_t seq = 0;
  size_t max_lat = (size_t)(seconds * 2e6);
  uint32_t *lat = g_new(uint32_t, max_lat);
  size_t n_lat = 0;
  uint64_t forwarded = 0, busy_ns = 0;
  uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
  while (now_ns() < deadline && n_lat + (size_t)receivers <= max_lat) {
    for (int i = 0; i < RING; i++, seq++) { /* refill, untimed */
      wire_len[i] = make_packet(wire[i], seq, (uint16_t)(seq & 0x7FFF));
      dc_srtp_protect(sender, wire[i], &wire_len[i], sizeof wire[i]);
    }
    for (int i = 0; i < RING && n_lat + (size_t)receivers <= max_lat; i++) {
      uint64_t t0 = now_ns();
      size_t len = wire_len[i];
      if (dc_srtp_unprotect(in, wire[i], &len) != DC_OK)
        abort();
      dc_rtp pkt;
      dc_rtp_parse(&pkt, wire[i], len);
      dc_packet_cache_put(cache, pkt.ssrc, pkt.seq, wire[i], len, t0 / 1000);
      for (int r = 0; r < receivers; r++) {
        uint8_t buf[PAYLOAD + 64 + DC_SRTP_MAX_TRAILER];
        memcpy(buf, wire[i], len);
        size_t l = len;
        if (dc_slot_forward(&slots[r], 1, 0, buf, l, t0 / 1000) == DC_SLOT_SEND) {
          dc_srtp_protect(out[r], buf, &l, sizeof buf);
          forwarded++;
          lat[n_lat++] = (uint32_t)(now_ns() - t0);
        }
      }
      busy_ns += now_ns() - t0;
    }
  }
  qsort(lat, n_lat, sizeof *lat, cmp_u32);
  result res = {forwarded / (busy_ns / 1e9) / 1e6, n_lat ? lat[n_lat / 2] / 1e3 : 0,
                n_lat ? lat[n_lat * 99 / 100] / 1e3 : 0};
  g_free(lat);
  dc_packet_cache_free(cache);
  for (int r = 0; r < receivers; r++)
    dc_srtp_free(out[r]);
  g_free(out);
  g_free(slots);
  dc_srtp_free(in);
  dc_srtp_free(sender);
  return res;
}

/* A second of a 2.5 Mbit/s camera in 1200-byte packets, into one source's cache. */
static size_t cache_bytes_per_source(void) {
  dc_packet_cache *c = dc_packet_cache_new(1000000, 1 << 20);
  uint8_t buf[PAYLOAD + 64];
  for (int i = 0; i < 3 * 260; i++) {
    size_t n = make_packet(buf, (uint16_t)i, (uint16_t)i);
    dc_packet_cache_put(c, 0x5eed, (uint16_t)i, buf, n, (uint64_t)i * 3846);
  }
  size_t bytes = dc_packet_cache_memory(c);
  dc_packet_cache_free(c);
  return bytes;
}

int main(int argc, char **argv) {
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--seconds"))
      seconds = atof(argv[++i]);
  const int sizes[] = {10, 30, 100, 300};
  printf("bench_router: one source, 1200-byte packets, unprotect -> cache -> route -> protect, one core\n\n");
  printf("%-10s %-26s %14s %10s %10s\n", "receivers", "SRTP profile", "forwarded/s", "p50 us", "p99 us");
  result gcm30 = {0}, gcm300 = {0};
  for (size_t k = 0; k < G_N_ELEMENTS(sizes); k++) {
    for (int p = 0; p < 2; p++) {
      dc_srtp_profile prof = p == 0 ? DC_SRTP_AEAD_AES_128_GCM : DC_SRTP_AES128_CM_SHA1_80;
      result r = run(prof, sizes[k], seconds);
      printf("%-10d %-26s %12.0f k %10.1f %10.1f\n", sizes[k], dc_srtp_profile_name(prof), r.mpps * 1e3,
             r.p50_us, r.p99_us);
      if (p == 0 && sizes[k] == 30)
        gcm30 = r;
      if (p == 0 && sizes[k] == 300)
        gcm300 = r;
    }
  }
  printf("\nGoal: >= 300 k forwarded/s per core with GCM: %.0f k at 300 receivers (%.1fx the goal)\n",
         gcm300.mpps * 1e3, gcm300.mpps * 1e3 / 300);
  printf("Goal: p99 added latency < 1 ms at 30 receivers: %.0f us (%.1fx below)\n", gcm30.p99_us,
         gcm30.p99_us > 0 ? 1000 / gcm30.p99_us : 0);
  printf("\nMemory: per source, its packet cache holding 1 s of 2.5 Mbit/s: %zu KiB\n",
         cache_bytes_per_source() / 1024);
  printf("        per receiver slot (routing state): %zu bytes; per SRTP session: see bench_mixer\n",
         sizeof(dc_slot));
  return 0;
}
