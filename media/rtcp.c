/* rtcp.c — RTCP walk, typed reads and writers; see rtcp.h for scope and RFCs. */
#include "media/rtcp.h"

#include <string.h>

/* Reads one packet's common header at pos; sets *next past it. Padding is allowed only when
 * the packet ends the datagram (RFC 3550 §6.4.1 and A.2). */
static dc_status read_one(const uint8_t *pos, const uint8_t *end, dc_rtcp_pkt *pkt,
                          const uint8_t **next) {
  if (end - pos < 4)
    return DC_ERR_TRUNCATED;
  if ((pos[0] >> 6) != 2)
    return DC_ERR_UNSUPPORTED;
  size_t total = 4u * ((size_t)dc_rd16(pos + 2) + 1);
  if ((size_t)(end - pos) < total)
    return DC_ERR_TRUNCATED;
  size_t body_len = total - 4;
  if (pos[0] & 0x20) {
    if (pos + total != end)
      return DC_ERR_MALFORMED;
    uint8_t pad = pos[total - 1];
    if (pad == 0 || pad > body_len)
      return DC_ERR_MALFORMED;
    body_len -= pad;
  }
  pkt->count = pos[0] & 0x1F;
  pkt->pt = pos[1];
  pkt->body = pos + 4;
  pkt->body_len = body_len;
  *next = pos + total;
  return DC_OK;
}

dc_status dc_rtcp_validate(const uint8_t *data, size_t len) {
  if (len == 0)
    return DC_ERR_TRUNCATED;
  const uint8_t *pos = data, *end = data + len;
  while (pos < end) {
    dc_rtcp_pkt pkt;
    dc_status st = read_one(pos, end, &pkt, &pos);
    if (st != DC_OK)
      return st;
  }
  return DC_OK;
}

void dc_rtcp_iter_init(dc_rtcp_iter *it, const uint8_t *data, size_t len) {
  it->pos = data;
  it->end = data + len;
}

dc_status dc_rtcp_next(dc_rtcp_iter *it, dc_rtcp_pkt *pkt) {
  if (it->pos >= it->end)
    return DC_ERR_NOT_FOUND;
  dc_status st = read_one(it->pos, it->end, pkt, &it->pos);
  if (st != DC_OK)
    it->pos = it->end;
  return st;
}

dc_rtcp_kind dc_rtcp_kind_of(const dc_rtcp_pkt *pkt) {
  switch (pkt->pt) {
  case DC_RTCP_PT_SR: return DC_RTCP_SR;
  case DC_RTCP_PT_RR: return DC_RTCP_RR;
  case DC_RTCP_PT_SDES: return DC_RTCP_SDES;
  case DC_RTCP_PT_BYE: return DC_RTCP_BYE;
  case DC_RTCP_PT_APP: return DC_RTCP_APP;
  case DC_RTCP_PT_XR: return DC_RTCP_XR;
  case DC_RTCP_PT_RTPFB:
    if (pkt->count == DC_RTCP_FMT_NACK)
      return DC_RTCP_NACK;
    if (pkt->count == DC_RTCP_FMT_TWCC)
      return DC_RTCP_TWCC;
    return DC_RTCP_OTHER_FB;
  case DC_RTCP_PT_PSFB:
    if (pkt->count == DC_RTCP_FMT_PLI)
      return DC_RTCP_PLI;
    if (pkt->count == DC_RTCP_FMT_FIR)
      return DC_RTCP_FIR;
    if (pkt->count == DC_RTCP_FMT_AFB && pkt->body_len >= 12 &&
        memcmp(pkt->body + 8, "REMB", 4) == 0)
      return DC_RTCP_REMB;
    return DC_RTCP_OTHER_FB;
  default: return DC_RTCP_UNKNOWN;
  }
}

const char *dc_rtcp_kind_str(dc_rtcp_kind kind) {
  static const char *const names[] = {"unknown", "SR",   "RR",   "SDES", "BYE", "APP",  "XR",
                                      "NACK",    "TWCC", "PLI",  "FIR",  "REMB", "other feedback"};
  return (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

/* ---- reports ---- */

static void read_block(const uint8_t *p, dc_rtcp_report_block *b) {
  b->ssrc = dc_rd32(p);
  b->fraction_lost = p[4];
  uint32_t lost = dc_rd24(p + 5);
  b->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
  b->ext_highest_seq = dc_rd32(p + 8);
  b->jitter = dc_rd32(p + 12);
  b->lsr = dc_rd32(p + 16);
  b->dlsr = dc_rd32(p + 20);
}

int dc_rtcp_rtt_ms(uint32_t now_mid32, const dc_rtcp_report_block *blk, int max_ms) {
  if (!blk->lsr)
    return -1;
  uint32_t rtt = now_mid32 - blk->lsr - blk->dlsr; /* wraps as the 32-bit fields do */
  uint64_t ms = ((uint64_t)rtt * 1000 + 32768) >> 16;
  return ms > (uint64_t)max_ms ? -1 : (int)ms;
}

dc_status dc_rtcp_parse_report(const dc_rtcp_pkt *pkt, dc_rtcp_report *out) {
  bool sr = pkt->pt == DC_RTCP_PT_SR;
  if (!sr && pkt->pt != DC_RTCP_PT_RR)
    return DC_ERR_UNSUPPORTED;
  size_t fixed = sr ? 24 : 4;
  /* Profile-specific extensions may follow the blocks (RFC 3550 §6.4.1): allowed. */
  if (pkt->body_len < fixed + 24u * pkt->count)
    return DC_ERR_TRUNCATED;
  const uint8_t *p = pkt->body;
  memset(out, 0, sizeof *out);
  out->is_sr = sr;
  out->ssrc = dc_rd32(p);
  if (sr) {
    out->ntp = dc_rd64(p + 4);
    out->rtp_ts = dc_rd32(p + 12);
    out->packet_count = dc_rd32(p + 16);
    out->octet_count = dc_rd32(p + 20);
  }
  out->n_blocks = pkt->count;
  for (unsigned i = 0; i < pkt->count; i++)
    read_block(p + fixed + 24 * i, &out->blocks[i]);
  return DC_OK;
}

/* ---- SDES, BYE ---- */

dc_status dc_rtcp_parse_sdes(const dc_rtcp_pkt *pkt, dc_rtcp_sdes *out) {
  if (pkt->pt != DC_RTCP_PT_SDES)
    return DC_ERR_UNSUPPORTED;
  const uint8_t *p = pkt->body, *end = pkt->body + pkt->body_len;
  out->n = 0;
  for (unsigned c = 0; c < pkt->count; c++) {
    if (end - p < 4)
      return DC_ERR_TRUNCATED;
    out->chunks[c].ssrc = dc_rd32(p);
    out->chunks[c].cname = NULL;
    out->chunks[c].cname_len = 0;
    p += 4;
    for (;;) { /* items until the terminating null item */
      if (p >= end)
        return DC_ERR_TRUNCATED;
      uint8_t type = *p;
      if (type == 0)
        break;
      if (end - p < 2 || (size_t)(end - p - 2) < p[1])
        return DC_ERR_TRUNCATED;
      if (type == 1) {
        out->chunks[c].cname = p + 2;
        out->chunks[c].cname_len = p[1];
      }
      p += 2 + p[1];
    }
    /* the null item, then zero padding to the next 32-bit boundary of the chunk */
    size_t used = (size_t)(p - pkt->body) + 1;
    size_t aligned = (used + 3) & ~(size_t)3;
    if (aligned > pkt->body_len)
      return DC_ERR_TRUNCATED;
    p = pkt->body + aligned;
    out->n = (uint8_t)(c + 1);
  }
  return DC_OK;
}

dc_status dc_rtcp_parse_bye(const dc_rtcp_pkt *pkt, dc_rtcp_bye *out) {
  if (pkt->pt != DC_RTCP_PT_BYE)
    return DC_ERR_UNSUPPORTED;
  size_t need = 4u * pkt->count;
  if (pkt->body_len < need)
    return DC_ERR_TRUNCATED;
  out->n = pkt->count;
  for (unsigned i = 0; i < pkt->count; i++)
    out->ssrcs[i] = dc_rd32(pkt->body + 4 * i);
  out->reason = NULL;
  out->reason_len = 0;
  if (pkt->body_len > need) {
    uint8_t rlen = pkt->body[need];
    if (pkt->body_len - need - 1 < rlen)
      return DC_ERR_TRUNCATED;
    out->reason = pkt->body + need + 1;
    out->reason_len = rlen;
  }
  return DC_OK;
}

/* ---- feedback ---- */

dc_status dc_rtcp_parse_fb(const dc_rtcp_pkt *pkt, dc_rtcp_fb *out) {
  if (pkt->pt != DC_RTCP_PT_RTPFB && pkt->pt != DC_RTCP_PT_PSFB)
    return DC_ERR_UNSUPPORTED;
  if (pkt->body_len < 8)
    return DC_ERR_TRUNCATED;
  out->fmt = pkt->count;
  out->sender_ssrc = dc_rd32(pkt->body);
  out->media_ssrc = dc_rd32(pkt->body + 4);
  out->fci = pkt->body + 8;
  out->fci_len = pkt->body_len - 8;
  return DC_OK;
}

size_t dc_rtcp_nack_expand(const dc_rtcp_fb *fb, uint16_t *seqs, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < dc_rtcp_nack_items(fb); i++) {
    uint16_t pid = dc_rd16(fb->fci + 4 * i), blp = dc_rd16(fb->fci + 4 * i + 2);
    if (n < cap)
      seqs[n++] = pid;
    for (unsigned b = 0; b < 16; b++)
      if ((blp >> b) & 1 && n < cap)
        seqs[n++] = (uint16_t)(pid + b + 1);
  }
  return n;
}

void dc_rtcp_fir_entry(const dc_rtcp_fb *fb, size_t i, uint32_t *ssrc, uint8_t *seq_nr) {
  *ssrc = dc_rd32(fb->fci + 8 * i);
  *seq_nr = fb->fci[8 * i + 4];
}

dc_status dc_rtcp_parse_remb(const dc_rtcp_fb *fb, dc_rtcp_remb *out) {
  if (fb->fci_len < 8 || memcmp(fb->fci, "REMB", 4) != 0)
    return DC_ERR_NOT_FOUND;
  uint8_t n = fb->fci[4];
  if (fb->fci_len < 8 + 4u * n)
    return DC_ERR_TRUNCATED;
  unsigned exp = fb->fci[5] >> 2;
  uint64_t mantissa = (uint64_t)(fb->fci[5] & 3) << 16 | dc_rd16(fb->fci + 6);
  /* 18-bit mantissa << 63 would overflow: saturate, no real link is that fast */
  out->bitrate_bps = exp > 45 ? UINT64_MAX : mantissa << exp;
  out->n_ssrcs = n;
  out->ssrcs = fb->fci + 8;
  return DC_OK;
}

bool dc_rtcp_remb_covers(const dc_rtcp_remb *r, uint32_t ssrc) {
  for (size_t i = 0; i < r->n_ssrcs; i++)
    if (dc_rtcp_remb_ssrc(r, i) == ssrc)
      return true;
  return r->n_ssrcs == 0;
}

/* ---- transport-wide CC ---- */

enum { SYM_NOT_RECEIVED = 0, SYM_SMALL = 1, SYM_LARGE = 2 };
#define TWCC_TICK_US 250
#define TWCC_REF_TICKS 256 /* 64 ms in 250 µs ticks */
#define TWCC_WRITE_MAX 4096

static void put_symbol(dc_twcc_packet *pkt, unsigned sym) {
  pkt->received = sym != SYM_NOT_RECEIVED;
  pkt->arrival_us = sym;
}

dc_status dc_rtcp_parse_twcc(const dc_rtcp_fb *fb, dc_rtcp_twcc *hdr, dc_twcc_packet *pkts,
                             size_t cap) {
  if (fb->fci_len < 8)
    return DC_ERR_TRUNCATED;
  const uint8_t *p = fb->fci, *end = fb->fci + fb->fci_len;
  hdr->base_seq = dc_rd16(p);
  hdr->status_count = dc_rd16(p + 2);
  uint32_t ref = dc_rd24(p + 4);
  hdr->reference_time = (ref & 0x800000u) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
  hdr->fb_count = p[7];
  p += 8;
  size_t count = hdr->status_count;
  if (cap < count)
    return DC_ERR_NO_SPACE;
  /* First the chunks: the status symbol of every reported packet. Until its delta is read,
   * arrival_us holds the symbol, so no second array is needed. */
  size_t have = 0;
  while (have < count) {
    if (end - p < 2)
      return DC_ERR_TRUNCATED;
    uint16_t chunk = dc_rd16(p);
    p += 2;
    unsigned n, bits;
    if (!(chunk & 0x8000)) { /* run length: one symbol repeated */
      unsigned sym = (chunk >> 13) & 3;
      if (sym == 3)
        return DC_ERR_MALFORMED;
      for (unsigned k = 0; k < (chunk & 0x1FFFu) && have < count; k++)
        put_symbol(&pkts[have++], sym);
      continue;
    }
    if (chunk & 0x4000)
      n = 7, bits = 2;
    else
      n = 14, bits = 1;
    for (unsigned k = 0; k < n && have < count; k++) {
      unsigned sym = (chunk >> (bits * (n - 1 - k))) & ((1u << bits) - 1);
      if (sym == 3)
        return DC_ERR_MALFORMED;
      put_symbol(&pkts[have++], sym);
    }
  }
  /* Then one delta per received packet, relative to the previous received one. */
  int64_t ticks = (int64_t)hdr->reference_time * TWCC_REF_TICKS;
  for (size_t i = 0; i < count; i++) {
    pkts[i].seq = (uint16_t)(hdr->base_seq + i);
    int64_t sym = pkts[i].arrival_us;
    if (!pkts[i].received) {
      pkts[i].arrival_us = 0;
      continue;
    }
    if (sym == SYM_SMALL) {
      if (end - p < 1)
        return DC_ERR_TRUNCATED;
      ticks += *p++;
    } else {
      if (end - p < 2)
        return DC_ERR_TRUNCATED;
      ticks += (int16_t)dc_rd16(p);
      p += 2;
    }
    pkts[i].arrival_us = ticks * TWCC_TICK_US;
  }
  return DC_OK;
}

/* ---- writers ---- */

void dc_rtcp_writer_init(dc_rtcp_writer *w, uint8_t *buf, size_t cap) {
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  w->overflow = false;
}

/* Reserves a packet of body_len bytes (padded to 32 bits with zeros) and writes its common
 * header; returns where the body goes, or NULL after marking overflow. */
static uint8_t *begin(dc_rtcp_writer *w, uint8_t count, uint8_t pt, size_t body_len) {
  size_t padded = (body_len + 3) & ~(size_t)3;
  if (w->overflow || w->cap - w->len < 4 + padded || padded / 4 > 0xFFFF) {
    w->overflow = true;
    return NULL;
  }
  uint8_t *p = w->buf + w->len;
  p[0] = (uint8_t)(0x80 | (count & 0x1F));
  p[1] = pt;
  dc_wr16(p + 2, (uint16_t)(padded / 4));
  memset(p + 4, 0, padded);
  w->len += 4 + padded;
  return p + 4;
}

static void write_block(uint8_t *p, const dc_rtcp_report_block *b) {
  dc_wr32(p, b->ssrc);
  p[4] = b->fraction_lost;
  int32_t lost = b->cumulative_lost;
  if (lost > 0x7FFFFF)
    lost = 0x7FFFFF;
  if (lost < -0x800000)
    lost = -0x800000;
  dc_wr24(p + 5, (uint32_t)lost & 0xFFFFFFu);
  dc_wr32(p + 8, b->ext_highest_seq);
  dc_wr32(p + 12, b->jitter);
  dc_wr32(p + 16, b->lsr);
  dc_wr32(p + 20, b->dlsr);
}

static void write_report(dc_rtcp_writer *w, const dc_rtcp_report *r, bool sr) {
  unsigned n = r->n_blocks > DC_RTCP_MAX_BLOCKS ? DC_RTCP_MAX_BLOCKS : r->n_blocks;
  size_t fixed = sr ? 24 : 4;
  uint8_t *p = begin(w, (uint8_t)n, sr ? DC_RTCP_PT_SR : DC_RTCP_PT_RR, fixed + 24 * n);
  if (!p)
    return;
  dc_wr32(p, r->ssrc);
  if (sr) {
    dc_wr64(p + 4, r->ntp);
    dc_wr32(p + 12, r->rtp_ts);
    dc_wr32(p + 16, r->packet_count);
    dc_wr32(p + 20, r->octet_count);
  }
  for (unsigned i = 0; i < n; i++)
    write_block(p + fixed + 24 * i, &r->blocks[i]);
}

void dc_rtcp_write_sr(dc_rtcp_writer *w, const dc_rtcp_report *sr) { write_report(w, sr, true); }
void dc_rtcp_write_rr(dc_rtcp_writer *w, const dc_rtcp_report *rr) { write_report(w, rr, false); }

void dc_rtcp_write_sdes_cname(dc_rtcp_writer *w, uint32_t ssrc, const char *cname) {
  size_t n = strlen(cname);
  if (n > 255)
    n = 255;
  /* SSRC, CNAME item, then at least one null octet ending the item list */
  uint8_t *p = begin(w, 1, DC_RTCP_PT_SDES, 4 + 2 + n + 1);
  if (!p)
    return;
  dc_wr32(p, ssrc);
  p[4] = 1;
  p[5] = (uint8_t)n;
  memcpy(p + 6, cname, n);
}

void dc_rtcp_write_bye(dc_rtcp_writer *w, const uint32_t *ssrcs, size_t n, const char *reason) {
  if (n > DC_RTCP_MAX_BLOCKS)
    n = DC_RTCP_MAX_BLOCKS;
  size_t rlen = reason ? strlen(reason) : 0;
  if (rlen > 255)
    rlen = 255;
  uint8_t *p = begin(w, (uint8_t)n, DC_RTCP_PT_BYE, 4 * n + (reason ? 1 + rlen : 0));
  if (!p)
    return;
  for (size_t i = 0; i < n; i++)
    dc_wr32(p + 4 * i, ssrcs[i]);
  if (reason) {
    p[4 * n] = (uint8_t)rlen;
    memcpy(p + 4 * n + 1, reason, rlen);
  }
}

static uint8_t *begin_fb(dc_rtcp_writer *w, uint8_t fmt, uint8_t pt, uint32_t sender,
                         uint32_t media, size_t fci_len) {
  uint8_t *p = begin(w, fmt, pt, 8 + fci_len);
  if (!p)
    return NULL;
  dc_wr32(p, sender);
  dc_wr32(p + 4, media);
  return p + 8;
}

void dc_rtcp_write_nack(dc_rtcp_writer *w, uint32_t sender, uint32_t media, const uint16_t *seqs,
                        size_t n) {
  if (n == 0)
    return;
  /* First count the items the greedy packing makes, then write them. */
  size_t items = 0;
  uint16_t pid = 0;
  for (size_t i = 0; i < n; i++) {
    uint16_t d = (uint16_t)(seqs[i] - pid);
    if (i == 0 || (d > 16))
      items++, pid = seqs[i];
  }
  uint8_t *p = begin_fb(w, DC_RTCP_FMT_NACK, DC_RTCP_PT_RTPFB, sender, media, 4 * items);
  if (!p)
    return;
  size_t k = 0;
  uint16_t blp = 0;
  for (size_t i = 0; i < n; i++) {
    uint16_t d = (uint16_t)(seqs[i] - pid);
    if (i == 0 || d > 16) {
      if (i)
        dc_wr16(p + 4 * k - 2, blp);
      pid = seqs[i];
      blp = 0;
      dc_wr16(p + 4 * k, pid);
      k++;
    } else if (d > 0) {
      blp |= (uint16_t)(1u << (d - 1));
    }
  }
  dc_wr16(p + 4 * k - 2, blp);
}

void dc_rtcp_write_pli(dc_rtcp_writer *w, uint32_t sender, uint32_t media) {
  begin_fb(w, DC_RTCP_FMT_PLI, DC_RTCP_PT_PSFB, sender, media, 0);
}

void dc_rtcp_write_fir(dc_rtcp_writer *w, uint32_t sender, uint32_t media, uint8_t seq_nr) {
  /* RFC 5104 §4.3.1.2: the common header's media SSRC is unused (0); the FCI names it. */
  uint8_t *p = begin_fb(w, DC_RTCP_FMT_FIR, DC_RTCP_PT_PSFB, sender, 0, 8);
  if (!p)
    return;
  dc_wr32(p, media);
  p[4] = seq_nr;
}

void dc_rtcp_write_remb(dc_rtcp_writer *w, uint32_t sender, uint64_t bitrate_bps,
                        const uint32_t *ssrcs, size_t n) {
  if (n > 255)
    n = 255;
  unsigned exp = 0;
  while (exp < 63 && (bitrate_bps >> exp) > 0x3FFFF)
    exp++;
  uint32_t mantissa = (uint32_t)(bitrate_bps >> exp);
  uint8_t *p = begin_fb(w, DC_RTCP_FMT_AFB, DC_RTCP_PT_PSFB, sender, 0, 8 + 4 * n);
  if (!p)
    return;
  memcpy(p, "REMB", 4);
  p[4] = (uint8_t)n;
  p[5] = (uint8_t)(exp << 2 | (mantissa >> 16));
  dc_wr16(p + 6, (uint16_t)mantissa);
  for (size_t i = 0; i < n; i++)
    dc_wr32(p + 8 + 4 * i, ssrcs[i]);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

dc_status dc_rtcp_write_twcc(dc_rtcp_writer *w, uint32_t sender, uint32_t media,
                             const dc_rtcp_twcc *hdr, const dc_twcc_packet *pkts) {
  size_t count = hdr->status_count;
  if (count == 0 || count > TWCC_WRITE_MAX)
    return DC_ERR_NO_SPACE;
  uint8_t sym[TWCC_WRITE_MAX];
  int16_t delta[TWCC_WRITE_MAX];
  int64_t prev = (int64_t)hdr->reference_time * TWCC_REF_TICKS;
  size_t delta_bytes = 0;
  for (size_t i = 0; i < count; i++) {
    if ((uint16_t)(hdr->base_seq + i) != pkts[i].seq)
      return DC_ERR_MALFORMED;
    if (!pkts[i].received) {
      sym[i] = SYM_NOT_RECEIVED;
      continue;
    }
    int64_t ticks = floor_div(pkts[i].arrival_us, TWCC_TICK_US);
    int64_t d = ticks - prev;
    if (d < INT16_MIN || d > INT16_MAX)
      return DC_ERR_MALFORMED;
    prev = ticks;
    delta[i] = (int16_t)d;
    sym[i] = (d >= 0 && d <= 255) ? SYM_SMALL : SYM_LARGE;
    delta_bytes += sym[i] == SYM_SMALL ? 1 : 2;
  }
  /* Chunk plan: a run-length chunk for runs of 14 or more (or the tail), else a status
   * vector: one-bit when the next 14 have no large delta, two-bit otherwise. */
  size_t chunks = 0;
  for (size_t i = 0; i < count;) {
    size_t run = 1;
    while (i + run < count && sym[i + run] == sym[i] && run < 0x1FFF)
      run++;
    if (run >= 14 || i + run == count) {
      i += run;
    } else {
      size_t take = count - i < 14 ? count - i : 14;
      bool large = false;
      for (size_t k = 0; k < take; k++)
        large |= sym[i + k] == SYM_LARGE;
      i += large ? (take < 7 ? take : 7) : take;
    }
    chunks++;
  }
  uint8_t *p = begin_fb(w, DC_RTCP_FMT_TWCC, DC_RTCP_PT_RTPFB, sender, media,
                        8 + 2 * chunks + delta_bytes);
  if (!p)
    return DC_ERR_NO_SPACE;
  dc_wr16(p, hdr->base_seq);
  dc_wr16(p + 2, hdr->status_count);
  dc_wr24(p + 4, (uint32_t)hdr->reference_time & 0xFFFFFFu);
  p[7] = hdr->fb_count;
  p += 8;
  for (size_t i = 0; i < count;) {
    size_t run = 1;
    while (i + run < count && sym[i + run] == sym[i] && run < 0x1FFF)
      run++;
    uint16_t chunk;
    if (run >= 14 || i + run == count) {
      chunk = (uint16_t)(sym[i] << 13 | run);
      i += run;
    } else {
      size_t take = count - i < 14 ? count - i : 14;
      bool large = false;
      for (size_t k = 0; k < take; k++)
        large |= sym[i + k] == SYM_LARGE;
      if (!large) {
        chunk = 0x8000;
        for (size_t k = 0; k < take; k++)
          chunk |= (uint16_t)(sym[i + k] << (13 - k));
      } else {
        take = take < 7 ? take : 7;
        chunk = 0xC000;
        for (size_t k = 0; k < take; k++)
          chunk |= (uint16_t)(sym[i + k] << (2 * (6 - k)));
      }
      i += take;
    }
    dc_wr16(p, chunk);
    p += 2;
  }
  for (size_t i = 0; i < count; i++) {
    if (sym[i] == SYM_SMALL) {
      *p++ = (uint8_t)delta[i];
    } else if (sym[i] == SYM_LARGE) {
      dc_wr16(p, (uint16_t)delta[i]);
      p += 2;
    }
  }
  return DC_OK;
}
