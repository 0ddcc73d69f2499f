/* silence_check.h — bridge/silence_filter's program, run by the kernel, against a plain reading
 * of what it is meant to drop (RFC 3550 §5.1, RFC 8285 §4.2, RFC 6464 §3): shared by its unit
 * test and its fuzz target. Header only, so that the fuzz tree (which builds no tests/lib)
 * takes it too.
 *
 * The kernel's answer: the packet goes to a loopback socket with the filter, followed by a
 * marker the filter always passes (its first byte is no RTP version); loopback keeps order,
 * so what arrives first says whether the packet was kept. */
#ifndef DC_TEST_SILENCE_CHECK_H
#define DC_TEST_SILENCE_CHECK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bridge/silence_filter.h"

/* What the filter should drop: an RTP packet of payload type opus_pt or red_pt whose one-byte
 * extension block, within the packet, has element level_id among its first
 * DC_SILENCE_FILTER_ELEMENTS (padding bytes counted) with level 127 and a data byte inside the
 * block, unless its sequence number is a multiple of DC_SILENCE_FILTER_SAMPLE. */
static inline bool silence_check_expected_drop(const uint8_t *p, size_t len, int opus_pt, int red_pt, int level_id) {
  if (len < 12 || (p[0] & 0xC0) != 0x80 || !(p[0] & 0x10))
    return false;
  int pt = p[1] & 0x7F;
  if (pt != opus_pt && pt != (red_pt >= 0 ? red_pt : opus_pt))
    return false;
  size_t ext = 12 + 4 * (size_t)(p[0] & 0x0F);
  if (ext + 4 > len || p[ext] != 0xBE || p[ext + 1] != 0xDE)
    return false;
  size_t words = (size_t)p[ext + 2] << 8 | p[ext + 3];
  size_t end = ext + 4 + 4 * words;
  if (!words || end > len)
    return false;
  size_t at = ext + 4;
  for (int e = 0; e < DC_SILENCE_FILTER_ELEMENTS; e++) {
    if (at + 1 >= end)
      return false;
    if (p[at] == 0) { /* padding */
      at++;
      continue;
    }
    int id = p[at] >> 4;
    if (id == level_id) {
      uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
      return (p[at + 1] & 0x7F) == 127 && seq % DC_SILENCE_FILTER_SAMPLE != 0;
    }
    if (id == 15)
      return false;
    at += 2 + (p[at] & 0x0F);
  }
  return false;
}

typedef struct {
  int rx, tx;
  struct sockaddr_in to;
} silence_check;

static inline bool silence_check_open(silence_check *c, int opus_pt, int red_pt, int level_id) {
  c->rx = socket(AF_INET, SOCK_DGRAM, 0);
  c->tx = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&c->to, 0, sizeof c->to);
  c->to.sin_family = AF_INET;
  c->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof c->to;
  struct timeval wait = {.tv_sec = 5};
  return c->rx >= 0 && c->tx >= 0 && bind(c->rx, (struct sockaddr *)&c->to, sizeof c->to) == 0 &&
         getsockname(c->rx, (struct sockaddr *)&c->to, &len) == 0 &&
         setsockopt(c->rx, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == 0 &&
         dc_silence_filter_attach(c->rx, opus_pt, red_pt, level_id);
}

static inline void silence_check_close(silence_check *c) {
  close(c->rx);
  close(c->tx);
}

/* 1: the kernel dropped the packet, 0: kept it, -1: the harness failed (errno). */
static inline int silence_check_kernel_drops(silence_check *c, const uint8_t *p, size_t len) {
  static const uint8_t marker[] = {0x01, 'd', 'c'};
  static uint8_t got[65536];
  if (sendto(c->tx, p, len, 0, (struct sockaddr *)&c->to, sizeof c->to) != (ssize_t)len ||
      sendto(c->tx, marker, sizeof marker, 0, (struct sockaddr *)&c->to, sizeof c->to) != sizeof marker)
    return -1;
  ssize_t n = recv(c->rx, got, sizeof got, 0);
  if (n == (ssize_t)len && memcmp(got, p, len) == 0) {
    n = recv(c->rx, got, sizeof got, 0); /* the marker after it */
    return n == sizeof marker && memcmp(got, marker, sizeof marker) == 0 ? 0 : -1;
  }
  return n == sizeof marker && memcmp(got, marker, sizeof marker) == 0 ? 1 : -1;
}

#endif
