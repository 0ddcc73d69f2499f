/* bench_mixer — CPU per 20 ms tick of the audio path for one room, in process, against a
 * naive mixer in the same run. Run by hand: build/normal/tests/bench/bench_mixer
 *
 * N participants; 3 talk (a voiced, syllable-modulated signal), the rest are silent and send
 * a DTX packet every 400 ms with the level extension saying silence. One tick's work is:
 * SRTP-unprotect every packet that arrived, parse it and read its level, push it to the
 * mixer, tick the mixer, then for every participant write an RTP header (with the level
 * extension) on its packet and SRTP-protect it (AEAD_AES_128_GCM). CPU time is the thread's
 * (CLOCK_THREAD_CPUTIME_ID), so other load on the machine moves it little.
 *
 * The naive mixer decodes everyone every tick and encodes one mix per participant, as many
 * bridges do; it runs up to N = 300. Goals: 3000 participants within 50 % of one core; at
 * N = 300 at least 20 times less CPU than naive; under 64 KiB per silent participant.
 */
#include <glib.h>
#include <malloc.h>
#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "media/mixer.h"
#include "media/rtp.h"
#include "media/srtp.h"

#define WARM_TICKS 25
#define TICKS 100
#define TALKERS 3
#define LEVEL_ID 1

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
  GPtrArray *packets; /* GBytes per tick index, NULL when nothing is sent that tick */
} source;

/* A talker's signal: 140 Hz voice with harmonics, opened and closed at 4 syllables/s. */
static void voice(int16_t *pcm, int n, long t0, int who) {
  for (int i = 0; i < n; i++) {
    double t = (double)(t0 + i) / 48000.0;
    double env = 0.5 + 0.5 * sin(2 * G_PI * 4.0 * t + who);
    double f0 = 120.0 + 20.0 * who;
    double s = sin(2 * G_PI * f0 * t) + 0.5 * sin(4 * G_PI * f0 * t) + 0.25 * sin(6 * G_PI * f0 * t);
    pcm[i] = (int16_t)(6000 * env * s);
  }
}

/* Encodes each participant's stream for all ticks and seals it with its sender session. */
static source *make_sources(int n, int ticks, dc_srtp **senders, size_t *bytes) {
  source *src = g_new0(source, n);
  int err;
  OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
  opus_encoder_ctl(enc, OPUS_SET_DTX(1));
  int16_t pcm[960];
  uint8_t silent_payload[8];
  memset(pcm, 0, sizeof pcm);
  opus_int32 silent_len = 0;
  for (int i = 0; i < 20; i++) /* let DTX settle to its tiny frames */
    silent_len = opus_encode(enc, pcm, 960, silent_payload, sizeof silent_payload);
  *bytes = 0;
  for (int p = 0; p < n; p++) {
    src[p].packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    opus_encoder_ctl(enc, OPUS_RESET_STATE);
    for (int t = 0; t < ticks; t++) {
      bool talker = p < TALKERS;
      if (!talker && (t + p) % 20 != 0) {
        g_ptr_array_add(src[p].packets, NULL);
        continue;
      }
      uint8_t buf[512];
      uint8_t level = talker ? 0x80 | 20 : 127;
      dc_rtp_ext_elem ext = {LEVEL_ID, 1, &level};
      dc_rtp_header h = {.payload_type = 111, .seq = (uint16_t)t, .timestamp = (uint32_t)t * 960,
                         .ssrc = 0x1000u + (uint32_t)p};
      size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, &ext, 1);
      size_t len;
      if (talker) {
        voice(pcm, 960, (long)t * 960, p);
        len = hl + (size_t)opus_encode(enc, pcm, 960, buf + hl, 400);
      } else {
        memcpy(buf + hl, silent_payload, (size_t)silent_len);
        len = hl + (size_t)silent_len;
      }
      dc_srtp_protect(senders[p], buf, &len, sizeof buf);
      g_ptr_array_add(src[p].packets, g_bytes_new(buf, len));
      *bytes += len;
    }
  }
  opus_encoder_destroy(enc);
  return src;
}

static void free_sources(source *src, int n) {
  for (int p = 0; p < n; p++)
    g_ptr_array_unref(src[p].packets);
  g_free(src);
}

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t salt[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

static size_t heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

typedef struct {
  double cpu_per_tick_us;
  double decodes, encodes;
  double bytes_per_participant;
} result;

static result run_mixer(int n) {
  size_t heap0 = heap_bytes();
  dc_srtp **in = g_new(dc_srtp *, n), **out = g_new(dc_srtp *, n), **senders = g_new(dc_srtp *, n);
  int *slot = g_new(int, n);
  dc_mixer_config cfg = {.max_participants = (unsigned)n, .talkers = 3};
  dc_mixer *m = dc_mixer_new(&cfg, NULL);
  for (int p = 0; p < n; p++) {
    in[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_INBOUND, NULL);
    out[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_OUTBOUND, NULL);
    slot[p] = dc_mixer_add(m, (dc_tier)(p % 2)); /* hall and standard: a packet every tick */
  }
  size_t heap1 = heap_bytes();
  for (int p = 0; p < n; p++)
    senders[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_OUTBOUND, NULL);
  size_t wire;
  source *src = make_sources(n, WARM_TICKS + TICKS, senders, &wire);
  dc_rtp_ext_ids ids = {.audio_level = LEVEL_ID};
  uint16_t *seq = g_new0(uint16_t, n);
  double cpu = 0, decodes = 0, encodes = 0;
  for (int t = 0; t < WARM_TICKS + TICKS; t++) {
    uint64_t now = 1000000 + (uint64_t)t * 20000;
    double t0 = cpu_now();
    for (int p = 0; p < n; p++) {
      GBytes *b = g_ptr_array_index(src[p].packets, t);
      if (!b)
        continue;
      uint8_t buf[600];
      gsize len;
      const void *data = g_bytes_get_data(b, &len);
      memcpy(buf, data, len);
      size_t l = len;
      dc_rtp r;
      if (dc_srtp_unprotect(in[p], buf, &l) != DC_OK || dc_rtp_parse(&r, buf, l) != DC_OK)
        continue;
      dc_rtp_ext_values v;
      dc_rtp_read_exts(&r, &ids, &v);
      dc_mixer_push(m, slot[p], &r, v.has_audio_level ? v.audio_level_dbov : -1, now);
    }
    dc_mixer_tick(m, now);
    for (int p = 0; p < n; p++) {
      const dc_mixer_packet *pk = dc_mixer_packet_for(m, slot[p]);
      if (!pk)
        continue;
      uint8_t buf[1600];
      uint8_t level = pk->level_dbov;
      dc_rtp_ext_elem ext = {LEVEL_ID, 1, &level};
      dc_rtp_header h = {.payload_type = 111, .seq = seq[p]++, .timestamp = (uint32_t)t * 960, .ssrc = 7};
      size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, &ext, 1);
      memcpy(buf + hl, pk->payload, pk->len);
      size_t l = hl + pk->len;
      dc_srtp_protect(out[p], buf, &l, sizeof buf);
    }
    if (t >= WARM_TICKS) {
      cpu += cpu_now() - t0;
      decodes += dc_mixer_get_stats(m).decodes;
      encodes += dc_mixer_get_stats(m).encodes;
    }
  }
  result r = {cpu / TICKS * 1e6, decodes / TICKS, encodes / TICKS,
              (double)(heap1 - heap0) / n};
  free_sources(src, n);
  for (int p = 0; p < n; p++) {
    dc_srtp_free(in[p]);
    dc_srtp_free(out[p]);
    dc_srtp_free(senders[p]);
  }
  g_free(in), g_free(out), g_free(senders), g_free(slot), g_free(seq);
  dc_mixer_free(m);
  return r;
}

/* The naive bridge: decode every participant every tick, one encode per participant. */
static result run_naive(int n) {
  dc_srtp **in = g_new(dc_srtp *, n), **out = g_new(dc_srtp *, n), **senders = g_new(dc_srtp *, n);
  OpusDecoder **dec = g_new(OpusDecoder *, n);
  OpusEncoder **enc = g_new(OpusEncoder *, n);
  int err;
  for (int p = 0; p < n; p++) {
    in[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_INBOUND, NULL);
    out[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_OUTBOUND, NULL);
    senders[p] = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, key, salt, DC_SRTP_OUTBOUND, NULL);
    dec[p] = opus_decoder_create(48000, 1, &err);
    enc[p] = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    opus_encoder_ctl(enc[p], OPUS_SET_BITRATE(32000));
  }
  size_t wire;
  source *src = make_sources(n, WARM_TICKS + TICKS, senders, &wire);
  int16_t (*pcm)[960] = g_malloc(sizeof *pcm * (size_t)n);
  int32_t total[960];
  double cpu = 0;
  for (int t = 0; t < WARM_TICKS + TICKS; t++) {
    double t0 = cpu_now();
    memset(total, 0, sizeof total);
    for (int p = 0; p < n; p++) {
      GBytes *b = g_ptr_array_index(src[p].packets, t);
      uint8_t buf[600];
      size_t l = 0;
      dc_rtp r;
      bool have = false;
      if (b) {
        gsize len;
        const void *data = g_bytes_get_data(b, &len);
        memcpy(buf, data, len);
        l = len;
        have = dc_srtp_unprotect(in[p], buf, &l) == DC_OK && dc_rtp_parse(&r, buf, l) == DC_OK;
      }
      int got = have ? opus_decode(dec[p], dc_rtp_payload(&r), (opus_int32)r.payload_len, pcm[p], 960, 0)
                     : opus_decode(dec[p], NULL, 0, pcm[p], 960, 0);
      for (int i = 0; i < 960 && got > 0; i++)
        total[i] += pcm[p][i];
    }
    for (int p = 0; p < n; p++) {
      int16_t own[960];
      for (int i = 0; i < 960; i++) {
        int32_t x = total[i] - pcm[p][i];
        own[i] = (int16_t)CLAMP(x, -32768, 32767);
      }
      uint8_t buf[1600];
      dc_rtp_header h = {.payload_type = 111, .seq = (uint16_t)t, .timestamp = (uint32_t)t * 960, .ssrc = 7};
      size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, NULL, 0);
      opus_int32 len = opus_encode(enc[p], own, 960, buf + hl, 1275);
      size_t l = hl + (size_t)len;
      dc_srtp_protect(out[p], buf, &l, sizeof buf);
    }
    if (t >= WARM_TICKS)
      cpu += cpu_now() - t0;
  }
  result r = {cpu / TICKS * 1e6, n, n, 0};
  free_sources(src, n);
  for (int p = 0; p < n; p++) {
    dc_srtp_free(in[p]), dc_srtp_free(out[p]), dc_srtp_free(senders[p]);
    opus_decoder_destroy(dec[p]);
    opus_encoder_destroy(enc[p]);
  }
  g_free(in), g_free(out), g_free(senders), g_free(dec), g_free(enc), g_free(pcm);
  return r;
}

int main(int argc, char **argv) {
  const int sizes[] = {10, 100, 300, 1000, 3000, 10000};
  int max_n = argc > 1 ? atoi(argv[1]) : 10000;
  printf("%-8s %14s %9s %9s %9s %16s %14s %8s\n", "N", "us per tick", "% core", "decodes", "encodes",
         "bytes/participant", "naive us/tick", "ratio");
  GString *json = g_string_new("{\"bench\":\"mixer\",\"rows\":[");
  int fits = 0;
  double ratio300 = 0;
  for (size_t i = 0; i < G_N_ELEMENTS(sizes) && sizes[i] <= max_n; i++) {
    int n = sizes[i];
    result r = run_mixer(n);
    result nv = n <= 300 ? run_naive(n) : (result){0};
    double core = r.cpu_per_tick_us / 20000.0 * 100.0;
    if (core <= 50.0)
      fits = n;
    double ratio = nv.cpu_per_tick_us > 0 ? nv.cpu_per_tick_us / r.cpu_per_tick_us : 0;
    if (n == 300)
      ratio300 = ratio;
    char naive[32] = "-", rat[16] = "-";
    if (nv.cpu_per_tick_us > 0) {
      g_snprintf(naive, sizeof naive, "%.0f", nv.cpu_per_tick_us);
      g_snprintf(rat, sizeof rat, "%.1fx", ratio);
    }
    printf("%-8d %14.0f %8.1f%% %9.1f %9.1f %16.0f %14s %8s\n", n, r.cpu_per_tick_us, core, r.decodes,
           r.encodes, r.bytes_per_participant, naive, rat);
    fflush(stdout);
    g_string_append_printf(json, "%s{\"n\":%d,\"us_per_tick\":%.1f,\"naive_us_per_tick\":%.1f,\"bytes_per_participant\":%.0f}",
                           i ? "," : "", n, r.cpu_per_tick_us, nv.cpu_per_tick_us, r.bytes_per_participant);
  }
  printf("largest N measured within 50%% of one core: %d (goal: 3000)\n", fits);
  printf("CPU ratio naive / diemcau at N = 300: %.1fx (goal: at least 20x)\n", ratio300);
  g_string_append_printf(json, "],\"largest_n_within_half_core\":%d,\"ratio_300\":%.1f}", fits, ratio300);
  printf("%s\n", json->str);
  g_string_free(json, TRUE);
  return 0;
}
