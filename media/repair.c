/* repair.c — packet cache, reception statistics with NACK lists, RTX; see repair.h. */
#include "media/repair.h"

#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"

/* ---- the packet cache ---- */

#define RING_MIN (64 * 1024)

typedef struct {
  uint64_t pos;   /* where the bytes start, counted since the ring began */
  uint32_t at_ms; /* when stored, on the caller's clock; wraps after 49 days, harmlessly */
  uint16_t seq;
  uint16_t len;   /* 0: empty */
} cache_entry;

typedef struct {
  uint32_t ssrc;
  bool used;
  uint64_t last_put_us;
  cache_entry *index; /* DC_CACHE_INDEX entries, by seq modulo; with the ring */
} cache_stream;

struct dc_packet_cache {
  uint64_t max_age_us;
  size_t max_bytes;
  uint8_t *ring;
  size_t ring_size;
  cache_entry *indexes; /* one block for every stream's index */
  uint64_t head; /* next byte to write, counted since the ring began */
  cache_stream streams[DC_CACHE_STREAMS];
};

dc_packet_cache *dc_packet_cache_new(uint64_t max_age_us, size_t max_bytes) {
  dc_packet_cache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->max_age_us = max_age_us;
  c->max_bytes = max_bytes < RING_MIN ? RING_MIN : max_bytes;
  return c; /* the ring comes with the first packet: a source without video costs nothing */
}

void dc_packet_cache_free(dc_packet_cache *c) {
  if (!c)
    return;
  free(c->ring);
  free(c->indexes);
  free(c);
}

size_t dc_packet_cache_memory(const dc_packet_cache *c) {
  return sizeof *c + c->ring_size + (c->indexes ? DC_CACHE_STREAMS * DC_CACHE_INDEX * sizeof(cache_entry) : 0);
}

static uint32_t age_ms(uint64_t now_us, const cache_entry *e) {
  return (uint32_t)(now_us / 1000) - e->at_ms;
}

static bool held(const dc_packet_cache *c, const cache_entry *e) {
  return e->len && c->head - e->pos <= c->ring_size;
}

/* The ring grows when the packet it is about to overwrite is younger than max_age: the
 * source sends more than the ring holds for that long. Growing starts empty (the old
 * packets' positions do not survive a new size); that costs a moment of repairs, a few
 * times in a source's life. */
static void ensure_ring(dc_packet_cache *c, size_t len, uint64_t now_us) {
  if (!c->ring) {
    c->indexes = calloc(DC_CACHE_STREAMS * DC_CACHE_INDEX, sizeof(cache_entry));
    c->ring = c->indexes ? malloc(RING_MIN) : NULL;
    c->ring_size = c->ring ? RING_MIN : 0;
    for (int s = 0; s < DC_CACHE_STREAMS && c->ring; s++)
      c->streams[s].index = c->indexes + s * DC_CACHE_INDEX;
    return;
  }
  if (c->ring_size >= c->max_bytes)
    return;
  /* the oldest packet still held: the one at or after head + len - ring_size */
  uint64_t overwrite_from = c->head + len > c->ring_size ? c->head + len - c->ring_size : 0;
  bool young = false;
  for (int s = 0; s < DC_CACHE_STREAMS && !young; s++) {
    const cache_stream *st = &c->streams[s];
    if (!st->used)
      continue;
    for (int i = 0; i < DC_CACHE_INDEX && !young; i++) {
      const cache_entry *e = &st->index[i];
      young = held(c, e) && e->pos < overwrite_from && age_ms(now_us, e) * 1000ull < c->max_age_us;
    }
  }
  if (!young)
    return;
  size_t bigger = c->ring_size * 2 > c->max_bytes ? c->max_bytes : c->ring_size * 2;
  uint8_t *ring = malloc(bigger);
  if (!ring)
    return;
  free(c->ring);
  c->ring = ring;
  c->ring_size = bigger;
  memset(c->indexes, 0, DC_CACHE_STREAMS * DC_CACHE_INDEX * sizeof(cache_entry));
}

void dc_packet_cache_put(dc_packet_cache *c, uint32_t ssrc, uint16_t seq, const uint8_t *buf,
                         size_t len, uint64_t now_us) {
  if (len == 0 || len > UINT16_MAX)
    return;
  cache_stream *st = NULL, *oldest = &c->streams[0];
  for (int s = 0; s < DC_CACHE_STREAMS && !st; s++) {
    if (c->streams[s].used && c->streams[s].ssrc == ssrc)
      st = &c->streams[s];
    else if (!c->streams[s].used || (oldest->used && c->streams[s].last_put_us < oldest->last_put_us))
      oldest = &c->streams[s];
  }
  /* The check for growth walks the index: do it only when the write wraps the ring. */
  if (!c->ring || (c->ring_size < c->max_bytes && (c->head % c->ring_size) + len > c->ring_size))
    ensure_ring(c, len, now_us);
  if (!c->ring || len > c->ring_size)
    return;
  if (!st) {
    st = oldest;
    st->used = true;
    st->ssrc = ssrc;
    memset(st->index, 0, DC_CACHE_INDEX * sizeof(cache_entry));
  }
  size_t at = (size_t)(c->head % c->ring_size);
  if (at + len > c->ring_size) { /* keep each packet in one piece: skip the ring's tail */
    c->head += c->ring_size - at;
    at = 0;
  }
  memcpy(c->ring + at, buf, len);
  st->index[seq % DC_CACHE_INDEX] =
      (cache_entry){.pos = c->head, .at_ms = (uint32_t)(now_us / 1000), .seq = seq, .len = (uint16_t)len};
  st->last_put_us = now_us;
  c->head += len;
}

size_t dc_packet_cache_get(const dc_packet_cache *c, uint32_t ssrc, uint16_t seq, uint64_t now_us,
                           uint8_t *out, size_t cap) {
  return dc_packet_cache_get_within(c, ssrc, seq, now_us, c->max_age_us, out, cap);
}

uint64_t dc_repair_age_us(int rtt_ms) {
  if (rtt_ms <= 0)
    return DC_REPAIR_AGE_MIN_US;
  uint64_t age = 3 * (uint64_t)rtt_ms * 1000 + 500000;
  return age < DC_REPAIR_AGE_MIN_US ? DC_REPAIR_AGE_MIN_US : age > DC_REPAIR_AGE_MAX_US ? DC_REPAIR_AGE_MAX_US : age;
}

size_t dc_packet_cache_get_within(const dc_packet_cache *c, uint32_t ssrc, uint16_t seq, uint64_t now_us,
                                  uint64_t max_age_us, uint8_t *out, size_t cap) {
  if (max_age_us > c->max_age_us)
    max_age_us = c->max_age_us;
  for (int s = 0; s < DC_CACHE_STREAMS; s++) {
    const cache_stream *st = &c->streams[s];
    if (!st->used || st->ssrc != ssrc)
      continue;
    const cache_entry *e = &st->index[seq % DC_CACHE_INDEX];
    if (!held(c, e) || e->seq != seq || age_ms(now_us, e) * 1000ull > max_age_us || e->len > cap)
      return 0;
    memcpy(out, c->ring + e->pos % c->ring_size, e->len);
    return e->len;
  }
  return 0;
}

/* ---- one incoming stream ---- */

#define SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000 /* RFC 3550 A.1 */
#define MAX_MISORDER 100

void dc_rx_stream_init(dc_rx_stream *s, uint32_t ssrc, uint32_t clock_rate) {
  memset(s, 0, sizeof *s);
  s->ssrc = ssrc;
  s->clock_rate = clock_rate;
}

static void forget_missing(dc_rx_stream *s, int i) {
  s->missing[i] = s->missing[--s->n_missing];
}

static void give_up(dc_rx_stream *s, int i, uint64_t count, uint64_t now_us) {
  if (i >= 0)
    forget_missing(s, i);
  s->given_up += count;
  s->given_up_us = now_us;
}

static void restart(dc_rx_stream *s, uint16_t seq) {
  s->jump_run = 0;
  s->base_seq = seq;
  s->max_seq = seq;
  s->cycles = 0;
  s->received = s->received_prior = s->expected_prior = 0;
  s->n_missing = 0;
}

bool dc_rx_stream_update(dc_rx_stream *s, uint16_t seq, uint32_t rtp_ts, size_t len, uint64_t now_us) {
  if (!s->started) {
    s->started = true;
    s->loss_runs_from_us = now_us + DC_LOSS_RUNS_SETTLE_US;
    restart(s, seq);
    s->max_seq_us = now_us;
  } else {
    uint16_t delta = (uint16_t)(seq - s->max_seq);
    if (delta == 0)
      return false; /* duplicate */
    if (delta < MAX_DROPOUT) {
      /* in order, maybe with a gap: the skipped ones are missing */
      s->jump_run = 0; /* the old numbering goes on: what jumped was no restart */
      if (delta > 1 && delta - 1u <= DC_LOSS_RUN_MAX && now_us >= s->loss_runs_from_us) {
        s->loss_gaps++;
        s->loss_gap_packets += delta - 1u;
        if (s->loss_gaps > DC_LOSS_RUNS_KEPT) {
          s->loss_gaps /= 2;
          s->loss_gap_packets /= 2;
        }
      }
      if (delta > DC_NACK_MAX) {
        give_up(s, -1, (uint64_t)s->n_missing + delta - 1, now_us);
        s->n_missing = 0; /* too many to ask for: let the decoder ask for a key frame */
      } else {
        uint64_t before_us = s->max_seq_us && s->max_seq_us < now_us ? s->max_seq_us : now_us;
        for (uint16_t k = 1; k < delta; k++) {
          if (s->n_missing == DC_NACK_MAX)
            give_up(s, 0, 1, now_us);
          uint64_t sent_us = before_us + (now_us - before_us) * k / delta;
          s->missing[s->n_missing++] = (dc_missing){.seq = (uint16_t)(s->max_seq + k), .first_us = sent_us};
        }
      }
      if (seq < s->max_seq)
        s->cycles += SEQ_MOD;
      s->max_seq = seq;
      s->max_seq_us = now_us;
    } else if (delta <= SEQ_MOD - MAX_MISORDER) {
      /* A jump. A sender that restarted its numbers goes on from there, so the next packet
       * confirms it (RFC 3550 A.1); a lone one is not taken. Taken at once, a retransmission
       * that came late (an old answer to our NACK, or a sender's RTX padding) read as a
       * restart: the packets after it then looked missing, were asked for and forwarded a
       * second time under numbers a receiver's slot had used, which SRTP refuses. */
      s->jump_run = s->jump_run && seq == s->bad_seq ? (uint8_t)(s->jump_run + 1) : 1;
      s->bad_seq = (uint16_t)(seq + 1);
      if (s->jump_run < DC_RX_JUMP_CONFIRM)
        return false;
      restart(s, seq);
      s->max_seq_us = now_us;
    } else {
      /* late or repaired: was it missing? */
      bool was_missing = false;
      for (int i = 0; i < s->n_missing; i++)
        if (s->missing[i].seq == seq) {
          forget_missing(s, i);
          was_missing = true;
          break;
        }
      if (!was_missing)
        return false; /* a duplicate of one already here, or too old */
      s->recovered++;
      /* late, not lost: its gap was shorter (a gap it filled whole still counts, which only
       * makes the runs look shorter) */
      if (s->loss_gap_packets > s->loss_gaps)
        s->loss_gap_packets--;
    }
  }
  s->received++;
  s->bytes += len;
  if (s->clock_rate) { /* RFC 3550 A.8: interarrival jitter, in timestamp units */
    uint32_t arrival = (uint32_t)(now_us * s->clock_rate / 1000000);
    uint32_t transit = arrival - rtp_ts;
    if (s->received > 1) {
      int32_t d = (int32_t)(transit - s->transit);
      s->jitter += ((d < 0 ? -(double)d : d) - s->jitter) / 16.0;
    }
    s->transit = transit;
  }
  return true;
}

bool dc_rx_stream_loses_in_runs(const dc_rx_stream *s) {
  return s->loss_gaps >= DC_LOSS_RUNS_MIN && (uint64_t)s->loss_gap_packets * 10 >= (uint64_t)s->loss_gaps * 16;
}

bool dc_rx_stream_rebuilt(dc_rx_stream *s, uint16_t seq) {
  for (int i = 0; i < s->n_missing; i++)
    if (s->missing[i].seq == seq) {
      forget_missing(s, i);
      s->rebuilt++;
      return true;
    }
  return false;
}

unsigned dc_rx_stream_not_needed(dc_rx_stream *s, uint16_t first, uint16_t n, uint16_t *out) {
  unsigned found = 0;
  for (int i = 0; i < s->n_missing;) {
    if ((uint16_t)(s->missing[i].seq - first) < n) {
      if (out)
        out[found] = s->missing[i].seq;
      forget_missing(s, i);
      found++;
      continue;
    }
    i++;
  }
  s->not_needed += found;
  return found;
}

void dc_rx_stream_silence_skipped(dc_rx_stream *s, uint16_t seq, bool silent) {
  if (!s->started)
    return;
  uint16_t delta = (uint16_t)(seq - s->max_seq);
  if (delta == 0 || delta >= MAX_DROPOUT)
    return; /* a duplicate, a late one or a jump: the packet before the gap is not known */
  if (delta > 1 && (silent || s->last_silent)) {
    uint16_t before = (uint16_t)(seq - 1);
    if (before < s->max_seq)
      s->cycles += SEQ_MOD;
    s->received += delta - 1u;
    s->skipped += delta - 1u;
    s->max_seq = before;
  }
  s->last_silent = silent;
}

void dc_rx_stream_on_sr(dc_rx_stream *s, uint64_t ntp, uint64_t now_us) {
  s->last_sr_ntp = (ntp >> 16) & 0xFFFFFFFFu;
  s->last_sr_us = now_us;
}

size_t dc_rx_stream_nacks(dc_rx_stream *s, uint64_t now_us, uint64_t retry_us, uint64_t max_age_us,
                          uint16_t *out, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < s->n_missing;) {
    dc_missing *m = &s->missing[i];
    if (now_us - m->first_us > max_age_us || (m->tries >= DC_NACK_TRIES && now_us - m->last_us >= retry_us)) {
      give_up(s, i, 1, now_us);
      continue;
    }
    if (n < cap && m->tries < DC_NACK_TRIES && (m->tries == 0 || now_us - m->last_us >= retry_us)) {
      out[n++] = m->seq;
      m->tries++;
      m->last_us = now_us;
      s->nacks_sent++;
    }
    i++;
  }
  return n;
}

void dc_rx_stream_give_up_missing(dc_rx_stream *s, uint64_t now_us) {
  if (s->n_missing)
    give_up(s, -1, (uint64_t)s->n_missing, now_us);
  s->n_missing = 0;
}

void dc_rx_stream_report(dc_rx_stream *s, uint64_t now_us, dc_rtcp_report_block *out) {
  memset(out, 0, sizeof *out);
  out->ssrc = s->ssrc;
  if (!s->started)
    return;
  uint64_t extended_max = s->cycles + s->max_seq;
  uint64_t expected = extended_max - s->base_seq + 1;
  int64_t lost = (int64_t)expected - (int64_t)s->received; /* RFC 3550 A.3: may go negative */
  lost = lost > 0x7FFFFF ? 0x7FFFFF : lost < -0x800000 ? -0x800000 : lost;
  uint64_t expected_interval = expected - s->expected_prior;
  uint64_t received_interval = s->received - s->received_prior;
  s->expected_prior = expected;
  s->received_prior = s->received;
  int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
  out->fraction_lost = expected_interval == 0 || lost_interval <= 0
                           ? 0 : (uint8_t)((lost_interval << 8) / (int64_t)expected_interval);
  out->cumulative_lost = (int32_t)lost;
  out->ext_highest_seq = (uint32_t)extended_max;
  out->jitter = (uint32_t)s->jitter;
  if (s->last_sr_us) {
    out->lsr = (uint32_t)s->last_sr_ntp;
    out->dlsr = (uint32_t)((now_us - s->last_sr_us) * 65536 / 1000000);
  }
}

void dc_uplink_loss_init(dc_uplink_loss *u) { *u = (dc_uplink_loss){.shown = -1}; }

int dc_uplink_loss_interval(dc_uplink_loss *u, bool measured, uint64_t expected, uint64_t lost) {
  if (!measured) {
    if (++u->unmeasured >= DC_UPLINK_LOSS_INTERVALS)
      dc_uplink_loss_init(u);
    return u->shown;
  }
  u->unmeasured = 0;
  const double keep = 1.0 - 1.0 / DC_UPLINK_LOSS_INTERVALS;
  u->expected = u->expected * keep + (double)expected;
  u->lost = u->lost * keep + (double)(lost < expected ? lost : expected);
  if (u->expected >= DC_UPLINK_LOSS_PACKETS) {
    double share = u->lost * 256 / u->expected;
    u->shown = share >= 255 ? 255 : (int)(share + 0.5);
  }
  return u->shown;
}

/* ---- RTX ---- */

size_t dc_rtx_wrap(uint8_t *buf, size_t len, size_t cap, uint8_t rtx_pt, uint32_t rtx_ssrc,
                   uint16_t rtx_seq) {
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return 0;
  size_t out_len = pkt.payload_off + 2 + pkt.payload_len;
  if (out_len > cap)
    return 0;
  memmove(buf + pkt.payload_off + 2, buf + pkt.payload_off, pkt.payload_len);
  dc_wr16(buf + pkt.payload_off, pkt.seq);
  buf[0] &= (uint8_t)~0x20; /* no padding */
  dc_rtp_set_payload_type(buf, rtx_pt);
  dc_rtp_set_ssrc(buf, rtx_ssrc);
  dc_rtp_set_seq(buf, rtx_seq);
  return out_len;
}

size_t dc_rtx_unwrap(uint8_t *buf, size_t len, uint8_t pt, uint32_t ssrc) {
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK || pkt.payload_len < 2 + 1)
    return 0;
  uint16_t osn = dc_rd16(buf + pkt.payload_off);
  memmove(buf + pkt.payload_off, buf + pkt.payload_off + 2, pkt.payload_len - 2);
  buf[0] &= (uint8_t)~0x20;
  dc_rtp_set_payload_type(buf, pt);
  dc_rtp_set_ssrc(buf, ssrc);
  dc_rtp_set_seq(buf, osn);
  return pkt.payload_off + pkt.payload_len - 2;
}

size_t dc_rtx_padding(uint8_t *out, size_t cap, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
                      uint32_t timestamp, uint8_t ast_id, size_t size) {
  static const uint8_t zero[3] = {0};
  dc_rtp_ext_elem ast = {.id = ast_id, .len = 3, .value = zero};
  dc_rtp_header hdr = {.payload_type = rtx_pt, .seq = rtx_seq, .timestamp = timestamp, .ssrc = rtx_ssrc};
  size_t head = dc_rtp_write_header(out, cap, &hdr, &ast, ast_id ? 1 : 0);
  if (!head)
    return 0;
  size_t pad = size > head ? size - head : 1;
  pad = pad > 255 ? 255 : pad;
  if (head + pad > cap)
    return 0;
  memset(out + head, 0, pad);
  out[0] |= 0x20;
  out[head + pad - 1] = (uint8_t)pad; /* the last padding octet counts them, itself included */
  return head + pad;
}

/* ---- the repair budget ---- */

bool dc_repair_budget_take(dc_repair_budget *b, uint64_t estimate_bps, size_t len, uint64_t now_us) {
  double rate = DC_REPAIR_SHARE * (double)estimate_bps; /* bit/s */
  double cap = rate * DC_REPAIR_BURST_US / 1e6;
  if (!b->last_us) { /* a fresh receiver starts with its burst: a key frame lost at the start */
    b->bits = cap;
    b->last_us = now_us;
  } else if (now_us > b->last_us) {
    b->bits += rate * (double)(now_us - b->last_us) / 1e6;
    b->last_us = now_us;
  }
  b->bits = b->bits > cap ? cap : b->bits;
  double need = 8.0 * (double)len;
  if (need > b->bits)
    return false;
  b->bits -= need;
  return true;
}

/* ---- key-frame requests ---- */

dc_keyframe_verdict dc_keyframe_gate_ask(dc_keyframe_gate *g, int64_t now_us, int64_t interval_us, int64_t *due_us) {
  if (!g->sent_us || now_us - g->sent_us >= interval_us) {
    g->sent_us = now_us;
    g->held_us = 0; /* what was held goes with this one */
    return DC_KEYFRAME_SEND;
  }
  int64_t due = g->sent_us + interval_us;
  if (g->held_us && g->held_due_us <= due)
    return DC_KEYFRAME_HELD;
  /* the first held, or one allowed sooner (a shorter spacing) than the one held: a timer for it;
   * the later timer then finds nothing to send */
  if (!g->held_us)
    g->held_us = now_us;
  g->held_due_us = due;
  *due_us = due;
  return DC_KEYFRAME_HELD_NEW;
}

bool dc_keyframe_gate_due(dc_keyframe_gate *g, int64_t now_us) {
  if (!g->held_us || now_us < g->held_due_us)
    return false;
  bool key_since = g->key_us >= g->held_us;
  g->held_us = 0;
  if (key_since)
    return false; /* the receiver has its key frame: another would cost its link for nothing */
  g->sent_us = now_us;
  return true;
}

void dc_keyframe_gate_key_seen(dc_keyframe_gate *g, int64_t now_us) { g->key_us = now_us; }
