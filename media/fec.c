/* fec.c — ULPFEC recovery (RFC 5109); see fec.h. */
#include "media/fec.h"

#include <string.h>

#define RTP_FIXED 12

dc_status dc_ulpfec_parse(const uint8_t *p, size_t len, dc_ulpfec *out) {
  if (len < DC_ULPFEC_HEADER + 4)
    return DC_ERR_TRUNCATED;
  if (p[0] & 0x80)
    return DC_ERR_UNSUPPORTED; /* E: an extended header RFC 5109 leaves undefined */
  bool long_mask = p[0] & 0x40;
  size_t level0 = long_mask ? 8 : 4;
  if (len < DC_ULPFEC_HEADER + level0)
    return DC_ERR_TRUNCATED;
  memset(out, 0, sizeof *out);
  out->recovery[0] = p[0];
  out->recovery[1] = p[1];
  out->sn_base = dc_rd16(p + 2);
  out->ts_recovery = dc_rd32(p + 4);
  out->len_recovery = dc_rd16(p + 8);
  const uint8_t *l0 = p + DC_ULPFEC_HEADER;
  out->prot_len = dc_rd16(l0);
  out->mask_bits = long_mask ? 48 : 16;
  out->mask = long_mask ? (uint64_t)dc_rd16(l0 + 2) << 32 | dc_rd32(l0 + 4) : dc_rd16(l0 + 2);
  if (!out->mask)
    return DC_ERR_MALFORMED;
  if (len - DC_ULPFEC_HEADER - level0 < out->prot_len)
    return DC_ERR_TRUNCATED;
  out->payload = l0 + level0;
  return DC_OK;
}

static bool protects(const dc_ulpfec *f, unsigned i) { return f->mask >> (f->mask_bits - 1 - i) & 1; }

typedef enum { REBUILT, NONE_MISSING, CANNOT } rebuild_result;

/* XOR of the parity with every protected packet that arrived gives the one that did not. */
static rebuild_result rebuild(const dc_ulpfec *f, uint32_t ssrc, dc_ulpfec_lookup lookup, void *user,
                              uint8_t *out, size_t cap, size_t *out_len, uint16_t *seq) {
  if (cap < RTP_FIXED + (size_t)f->prot_len)
    return CANNOT;
  uint8_t first[2] = {f->recovery[0], f->recovery[1]};
  uint32_t ts = f->ts_recovery;
  uint16_t length = f->len_recovery;
  uint8_t *body = out + RTP_FIXED;
  memcpy(body, f->payload, f->prot_len);
  bool missing = false;
  uint16_t missing_seq = 0;
  uint8_t pkt[DC_ULPFEC_MAX_PACKET];
  for (unsigned i = 0; i < f->mask_bits; i++) {
    if (!protects(f, i))
      continue;
    uint16_t s = (uint16_t)(f->sn_base + i);
    size_t n = lookup(user, s, pkt, sizeof pkt);
    if (!n) {
      if (missing)
        return CANNOT; /* two missing: another FEC packet may leave only one */
      missing = true;
      missing_seq = s;
      continue;
    }
    if (n < RTP_FIXED || n - RTP_FIXED > f->prot_len)
      return CANNOT; /* not what this parity covered: another packet under that number */
    first[0] ^= pkt[0];
    first[1] ^= pkt[1];
    ts ^= dc_rd32(pkt + 4);
    length ^= (uint16_t)(n - RTP_FIXED);
    for (size_t k = 0; k < n - RTP_FIXED; k++)
      body[k] ^= pkt[RTP_FIXED + k];
  }
  if (!missing)
    return NONE_MISSING;
  if (length > f->prot_len || RTP_FIXED + (size_t)length > DC_ULPFEC_MAX_PACKET)
    return CANNOT; /* the parity does not cover what it says was there */
  out[0] = (uint8_t)(0x80 | (first[0] & 0x3F)); /* version 2; P, X, CC as recovered */
  out[1] = first[1];
  dc_wr16(out + 2, missing_seq);
  dc_wr32(out + 4, ts);
  dc_wr32(out + 8, ssrc);
  *out_len = RTP_FIXED + (size_t)length;
  *seq = missing_seq;
  return REBUILT;
}

size_t dc_ulpfec_recover(const dc_ulpfec *fec, uint32_t ssrc, dc_ulpfec_lookup lookup, void *user,
                         uint8_t *out, size_t cap, uint16_t *seq) {
  size_t len = 0;
  return rebuild(fec, ssrc, lookup, user, out, cap, &len, seq) == REBUILT ? len : 0;
}

bool dc_ulpfec_store_put(dc_ulpfec_store *st, uint32_t ssrc, const uint8_t *payload, size_t len, uint64_t now_us) {
  dc_ulpfec f;
  if (len > sizeof st->held[0].payload || dc_ulpfec_parse(payload, len, &f) != DC_OK)
    return false;
  unsigned k = 0;
  for (unsigned i = 1; i < DC_ULPFEC_HELD && st->held[k].at_us; i++)
    if (!st->held[i].at_us || st->held[i].at_us < st->held[k].at_us)
      k = i;
  st->held[k].at_us = now_us ? now_us : 1;
  st->held[k].ssrc = ssrc;
  st->held[k].len = (uint16_t)len;
  memcpy(st->held[k].payload, payload, len);
  return true;
}

size_t dc_ulpfec_store_recover(dc_ulpfec_store *st, uint32_t ssrc, dc_ulpfec_lookup lookup, void *user,
                               uint64_t now_us, uint8_t *out, size_t cap, uint16_t *seq) {
  for (unsigned i = 0; i < DC_ULPFEC_HELD; i++) {
    if (!st->held[i].at_us || st->held[i].ssrc != ssrc)
      continue;
    dc_ulpfec f;
    if (now_us - st->held[i].at_us > DC_ULPFEC_HOLD_US ||
        dc_ulpfec_parse(st->held[i].payload, st->held[i].len, &f) != DC_OK) {
      st->held[i].at_us = 0;
      continue;
    }
    size_t len = 0;
    switch (rebuild(&f, ssrc, lookup, user, out, cap, &len, seq)) {
    case REBUILT:
      st->held[i].at_us = 0; /* nothing left for it to rebuild */
      return len;
    case NONE_MISSING:
      st->held[i].at_us = 0;
      break;
    case CANNOT:
      break; /* kept: a repair or another FEC packet may leave it one missing */
    }
  }
  return 0;
}

bool dc_ulpfec_store_any(const dc_ulpfec_store *st) {
  for (unsigned i = 0; i < DC_ULPFEC_HELD; i++)
    if (st->held[i].at_us)
      return true;
  return false;
}
