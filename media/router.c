/* router.c — per-slot continuity and key-frame switching; see router.h. */
#include "media/router.h"

#include <glib.h>
#include <string.h>

#include "media/rtp.h"
#include "media/vp8.h"

#define VIDEO_CLOCK 90 /* RTP ticks per millisecond for video */
#define MIN_U64(a, b) ((a) < (b) ? (a) : (b))
#define MAX_U64(a, b) ((a) > (b) ? (a) : (b))

void dc_slot_init(dc_slot *s, uint32_t out_ssrc, uint8_t out_pt) {
  memset(s, 0, sizeof *s);
  s->out_ssrc = out_ssrc;
  s->out_pt = out_pt;
  s->source = s->want_source = DC_SLOT_NONE;
}

void dc_slot_want(dc_slot *s, int64_t source, int layer) {
  s->want_source = source;
  s->want_layer = layer;
  if (source == DC_SLOT_NONE)
    s->source = DC_SLOT_NONE;
}

bool dc_slot_needs_keyframe(const dc_slot *s) {
  return s->want_source != DC_SLOT_NONE &&
         (s->want_source != s->source || s->want_layer != s->layer);
}

#define BASE_LAG 0x4000 /* packets: how far behind the newest the slot's base may be */

static dc_slot_result forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                              uint64_t now_us, bool repair);
static void advance(dc_slot *s, uint16_t seq, uint32_t ts, uint64_t now_us, bool repair);
static size_t make_padding(uint8_t *buf, const dc_rtp *pkt);

dc_slot_result dc_slot_forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                               uint64_t now_us) {
  return forward(s, source, layer, buf, len, now_us, false);
}

dc_slot_result dc_slot_forward_repair(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                                      uint64_t now_us) {
  return forward(s, source, layer, buf, len, now_us, true);
}

static dc_slot_result forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                              uint64_t now_us, bool repair) {
  dc_rtp pkt;
  dc_vp8_desc d;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK ||
      dc_vp8_parse(dc_rtp_payload(&pkt), pkt.payload_len, &d) != DC_OK)
    return DC_SLOT_INVALID;
  bool current = source == s->source && layer == s->layer && pkt.ssrc == s->in_ssrc;
  if (repair && !current)
    return DC_SLOT_DROP; /* a repair is of what plays now, never the start of a switch */
  bool wanted = source == s->want_source && layer == s->want_layer;
  if (!current) {
    if (!wanted || !d.keyframe)
      return DC_SLOT_DROP;
    /* The switch: this key frame continues the slot as its next frame. */
    uint16_t next_seq = s->started ? (uint16_t)(s->last_seq + 1) : pkt.seq;
    uint64_t gap_ms = s->started && now_us > s->last_us ? (now_us - s->last_us) / 1000 : 0;
    uint32_t next_ts = s->started ? s->last_ts + (uint32_t)((gap_ms ? gap_ms : 33) * VIDEO_CLOCK) : pkt.timestamp;
    s->seq_delta = (uint16_t)(next_seq - pkt.seq);
    s->ts_delta = next_ts - pkt.timestamp;
    if (d.has_picture_id)
      s->pid_delta = (uint16_t)((s->started ? s->last_pid + 1 : d.picture_id) - d.picture_id);
    if (d.has_tl0picidx)
      s->tl0_delta = (uint8_t)((s->started ? s->last_tl0 + 1 : d.tl0picidx) - d.tl0picidx);
    s->source = source;
    s->layer = layer;
    s->in_ssrc = pkt.ssrc;
    if (s->started)
      s->switches++;
    s->started = true;
    s->last_seq = (uint16_t)(next_seq - 1);
    s->base_seq = next_seq;
  }
  uint16_t seq = (uint16_t)(pkt.seq + s->seq_delta);
  /* Older than the key frame we switched on (reordered, a late repair, or sent so on
   * purpose): its number would fall on one the slot already sent for the source before, and
   * SRTP would protect that index again with other bytes. Such a packet is never needed: the
   * receiver decodes from the key frame on. */
  if ((int16_t)(uint16_t)(seq - s->base_seq) < 0)
    return DC_SLOT_DROP;
  uint32_t ts = pkt.timestamp + s->ts_delta;
  uint8_t *payload = buf + pkt.payload_off;
  if (d.has_picture_id) {
    uint16_t pid = (uint16_t)(d.picture_id + s->pid_delta);
    dc_vp8_set_picture_id(payload, &d, pid);
    if (dc_seq_newer(seq, s->last_seq))
      s->last_pid = pid & (d.long_picture_id ? 0x7FFF : 0x7F);
  }
  if (d.has_tl0picidx) {
    uint8_t tl0 = (uint8_t)(d.tl0picidx + s->tl0_delta);
    dc_vp8_set_tl0picidx(payload, &d, tl0);
    if (dc_seq_newer(seq, s->last_seq))
      s->last_tl0 = tl0;
  }
  advance(s, seq, ts, now_us, repair);
  dc_rtp_set_seq(buf, seq);
  dc_rtp_set_timestamp(buf, ts);
  dc_rtp_set_ssrc(buf, s->out_ssrc);
  dc_rtp_set_payload_type(buf, s->out_pt);
  s->out_len = len;
  /* A repair goes whole even when thinned: the receiver asked for that packet, and an empty
   * RTX would read as padding, not as the retransmission it is. */
  if (s->thin && !repair && d.has_tid && d.tid > s->keep_tid && !d.keyframe)
    s->out_len = make_padding(buf, &pkt);
  return DC_SLOT_SEND;
}

dc_slot_result dc_slot_forward_filler(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                                      uint64_t now_us) {
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK || pkt.payload_off + 4 > len)
    return DC_SLOT_INVALID;
  if (source != s->source || layer != s->layer || pkt.ssrc != s->in_ssrc)
    return DC_SLOT_DROP; /* nothing of that stream plays here: no number to keep */
  uint16_t seq = (uint16_t)(pkt.seq + s->seq_delta);
  if ((int16_t)(uint16_t)(seq - s->base_seq) < 0)
    return DC_SLOT_DROP; /* under a number the slot used before the switch (see forward) */
  uint32_t ts = pkt.timestamp + s->ts_delta;
  advance(s, seq, ts, now_us, false);
  dc_rtp_set_seq(buf, seq);
  dc_rtp_set_timestamp(buf, ts);
  dc_rtp_set_ssrc(buf, s->out_ssrc);
  dc_rtp_set_payload_type(buf, s->out_pt);
  buf[1] &= 0x7F; /* no marker: it ends no frame */
  s->out_len = make_padding(buf, &pkt);
  return DC_SLOT_SEND;
}

/* The slot's numbering moves on to seq (or a late one fills a gap it left). */
static void advance(dc_slot *s, uint16_t seq, uint32_t ts, uint64_t now_us, bool repair) {
  if (dc_seq_newer(seq, s->last_seq)) {
    uint16_t gap = (uint16_t)(seq - s->last_seq - 1);
    if (gap) {
      s->skipped += gap;
      s->skips[s->skip_next % G_N_ELEMENTS(s->skips)].after = seq;
      s->skips[s->skip_next % G_N_ELEMENTS(s->skips)].n = gap;
      s->skip_next++;
    }
    s->last_seq = seq;
    s->last_ts = ts;
    s->last_us = now_us;
    /* The guard above measures from the switch in 16 bits: 32 768 packets on, the newest
     * would read as older than the switch and all be dropped (one speaker for a few minutes
     * froze every main slot). Once well past the switch, the guard follows the stream: what
     * comes more than BASE_LAG behind the newest is stale anyway. */
    if ((uint16_t)(s->last_seq - s->base_seq) > BASE_LAG)
      s->base_seq = (uint16_t)(s->last_seq - BASE_LAG);
  } else if (s->skipped && !repair) {
    s->skipped--; /* a late packet (the source's repair) fills a gap */
  }
}

/* The packet's header (extensions kept) and padding only; its length. RFC 3550 §5.1: P set,
 * and the last of the padding octets counts them (here 4). */
static size_t make_padding(uint8_t *buf, const dc_rtp *pkt) {
  buf[0] |= 0x20;
  memset(buf + pkt->payload_off, 0, 3);
  buf[pkt->payload_off + 3] = 4;
  return pkt->payload_off + 4;
}

bool dc_pli_allow(dc_pli_throttle *t, uint64_t now_us) {
  if (t->ever && now_us - t->last_us < t->interval_us)
    return false;
  t->ever = true;
  t->last_us = now_us;
  return true;
}

bool dc_slot_source_seq(const dc_slot *s, uint16_t out_seq, uint16_t *in_seq) {
  if (!s->started || s->source == DC_SLOT_NONE)
    return false;
  /* between base_seq and last_seq, inclusive, in serial order */
  if ((uint16_t)(out_seq - s->base_seq) > (uint16_t)(s->last_seq - s->base_seq))
    return false;
  *in_seq = (uint16_t)(out_seq - s->seq_delta);
  return true;
}

/* Skipped up to and including ext_highest: the recent skips after it are not yet known to
 * the receiver. */
static uint32_t skipped_upto(const dc_slot *s, uint32_t ext_highest) {
  uint32_t later = 0;
  unsigned n = MIN(s->skip_next, (unsigned)G_N_ELEMENTS(s->skips));
  for (unsigned i = 0; i < n; i++) {
    unsigned k = (s->skip_next - 1 - i) % G_N_ELEMENTS(s->skips);
    if ((int16_t)(uint16_t)(s->skips[k].after - (uint16_t)ext_highest) <= 0)
      break; /* this one and all before it are within the report */
    later += s->skips[k].n;
  }
  return later > s->skipped ? 0 : s->skipped - later;
}

int dc_leg_loss_update(dc_leg_loss *l, const dc_slot *s, uint8_t fraction_lost,
                       int32_t cumulative_lost, uint32_t ext_highest) {
  uint32_t skipped = skipped_upto(s, ext_highest);
  dc_leg_loss prev = *l;
  *l = (dc_leg_loss){true, cumulative_lost, ext_highest, skipped};
  if (!prev.have)
    return fraction_lost;
  int64_t expected = (int64_t)ext_highest - (int64_t)prev.ext_highest;
  if (expected <= 0)
    return -1;
  int64_t lost = ((int64_t)cumulative_lost - prev.cumulative_lost) - ((int64_t)skipped - (int64_t)prev.skipped);
  int64_t leg = lost <= 0 ? 0 : MIN(lost * 256 / expected, 255);
  return (int)MIN(leg, (int64_t)fraction_lost);
}

/* ---- bandwidth estimate ---- */

#define LOSS_HIGH (256 / 10) /* 10 % in 1/256 */
#define LOSS_LOW (256 / 50)  /*  2 % */
#define DECREASE_EVERY_US 300000
#define INCREASE_EVERY_US 1000000
#define REMB_DECREASE_EVERY_US 1000000 /* Chrome repeats a lowered REMB; one cut per second */

void dc_bwe_init(dc_bwe *b, uint64_t initial_bps, uint64_t floor_bps, uint64_t ceiling_bps) {
  memset(b, 0, sizeof *b);
  b->floor_bps = floor_bps;
  b->ceiling_bps = ceiling_bps;
  b->estimate_bps = initial_bps < floor_bps ? floor_bps : initial_bps > ceiling_bps ? ceiling_bps : initial_bps;
}

static void set_estimate(dc_bwe *b, uint64_t bps, uint64_t now_us) {
  b->estimate_bps = bps < b->floor_bps ? b->floor_bps : bps > b->ceiling_bps ? b->ceiling_bps : bps;
  b->last_change_us = now_us ? now_us : 1;
}

void dc_bwe_on_remb(dc_bwe *b, uint64_t remb_bps, uint64_t sent_bps, uint64_t now_us) {
  uint64_t previous = b->remb_bps;
  b->remb_bps = remb_bps;
  /* Chrome reports 0.85 of what it receives when it sees delay grow: under 90 % of what we
   * send is that signal. The estimate drops to it and must grow back from there. But a REMB
   * still rising is no such signal: Chrome never reports more than 1.5 times what it
   * receives, so right after we send more (a thumbnail back on) its REMB lags below our rate
   * while it climbs. Read as congestion, that paused the thumbnail again each second on a
   * clean link, and every resume cost the source a key frame. A queue shows as a REMB that
   * falls, or stays down. */
  bool rising = remb_bps > previous;
  if (remb_bps < sent_bps * 9 / 10 && remb_bps < b->estimate_bps && !rising &&
      (now_us - b->last_change_us >= REMB_DECREASE_EVERY_US || !b->last_change_us)) {
    /* One signal cuts at most 15 %: on a thin link a single key frame queues long enough
     * to look like overuse, and a lasting queue keeps signalling every few hundred ms. */
    uint64_t floor = b->estimate_bps * 85 / 100;
    if (now_us < b->settle_until_us && floor < b->settle_floor_bps)
      floor = MIN(b->settle_floor_bps, b->estimate_bps);
    b->congestion_signals++;
    set_estimate(b, remb_bps > floor ? remb_bps : floor, now_us);
  } else if (remb_bps > b->estimate_bps && b->last_fraction_lost <= LOSS_HIGH) {
    /* The receiver finds more would fit (at most 1.5 times what it gets): after a cut,
     * that is the way back up in one step, where 8 % a second would take half a minute.
     * Loss in GCC's hold band (2-10 %) holds the loss-based estimate but does not stop this:
     * on a radio or 3G link the loss is the air's, not a queue's (a queue shows in the
     * receiver's delay first), and with it the estimate could never come back after a cut
     * (highland-128, 5 % random loss: a main slot thinned at an 80 kbit/s estimate sent too
     * little for Chrome's REMB to say more, and was held there for the whole run). */
    set_estimate(b, remb_bps, now_us);
  }
}

void dc_bwe_on_loss(dc_bwe *b, uint8_t fraction_lost, uint64_t sent_bps, uint64_t now_us) {
  b->last_fraction_lost = fraction_lost;
  uint64_t since = now_us - b->last_change_us;
  if (fraction_lost > LOSS_HIGH && (since >= DECREASE_EVERY_US || !b->last_change_us)) {
    set_estimate(b, b->estimate_bps * (512 - fraction_lost) / 512, now_us); /* times (1 - loss/2) */
  } else if (fraction_lost < LOSS_LOW && (since >= INCREASE_EVERY_US || !b->last_change_us)) {
    /* No loss at a rate says nothing of a rate half as much again (GCC §5.5 bounds its
     * estimate by 1.5 times what is received): growing on, the estimate of a thin link that
     * carried 170 kbit/s cleanly reached 430 kbit/s, and the next switch chose a layer that
     * filled the link's queue. Above that, a probe (dc_probe) must show the link carries more. */
    uint64_t grown = b->estimate_bps * 108 / 100 + 1000;
    if (sent_bps && grown > sent_bps * 3 / 2)
      grown = MAX_U64(b->estimate_bps, sent_bps * 3 / 2);
    if (grown != b->estimate_bps)
      set_estimate(b, grown, now_us);
  }
}

void dc_bwe_on_probe(dc_bwe *b, uint64_t probed_bps, uint64_t now_us) {
  if (probed_bps > b->estimate_bps)
    set_estimate(b, probed_bps, now_us);
}

void dc_bwe_on_probe_failed(dc_bwe *b, uint64_t before_bps, uint64_t carried_bps, uint64_t now_us) {
  if (before_bps > b->estimate_bps)
    set_estimate(b, before_bps, now_us);
  b->settle_floor_bps = MIN(carried_bps, before_bps);
  b->settle_until_us = now_us + DC_PROBE_SETTLE_US;
}

/* ---- layer choice ---- */

int dc_source_lowest_layer(const dc_source_layers *src) {
  for (int l = 0; l < src->n_layers && l < DC_MAX_LAYERS; l++)
    if (src->layer_bps[l])
      return l;
  return DC_LAYER_OFF;
}

uint64_t dc_source_layer_cost(const dc_source_layers *src, int l) {
  if (l < 0 || l >= src->n_layers || l >= DC_MAX_LAYERS || !src->layer_bps[l])
    return 0;
  uint64_t below = 0;
  for (int j = l - 1; j >= 0 && !below; j--)
    below = dc_source_layer_cost(src, j);
  return MAX(src->layer_bps[l], 2 * below);
}

uint64_t dc_choose_layers(uint64_t budget_bps, const dc_source_layers *const *sources, int n_slots,
                          bool main_playing, int *layers) {
  uint64_t used = 0;
  for (int k = 0; k < n_slots; k++)
    layers[k] = DC_LAYER_OFF;
  if (n_slots <= 0)
    return 0;
  /* the main slot: the highest arriving layer that fits. Its lowest layer is the last thing
   * given up: kept down to a third of its rate (the sender's encoder adapts to the loss and
   * delay a tight link brings, and a thin link's estimate dips at every key frame; a frozen
   * speaker helps nobody). Below that the link cannot carry it at all: audio comes first. A
   * main slot that is off comes back when half its lowest layer fits: it comes back thinned
   * to its base temporal layer (about 40 % of the bits: the caller's keep_tid), where resumed
   * whole at three times the estimate it filled a thin link's queue and went off again
   * seconds later. */
  const dc_source_layers *main = sources[0];
  for (int l = main ? main->n_layers - 1 : -1; l >= 0; l--) {
    uint64_t cost = dc_source_layer_cost(main, l);
    if (cost && cost <= budget_bps) {
      layers[0] = l;
      used = cost;
      break;
    }
  }
  int lowest = main ? dc_source_lowest_layer(main) : DC_LAYER_OFF;
  if (lowest != DC_LAYER_OFF && layers[0] == DC_LAYER_OFF &&
      main->layer_bps[lowest] / (main_playing ? 3 : 2) <= budget_bps) {
    layers[0] = lowest;
    used = main->layer_bps[lowest];
  }
  if (main && layers[0] == DC_LAYER_OFF)
    return 0; /* not even the main slot fits: thumbnails certainly do not */
  /* thumbnails, in slot order (most recent speech first), each at its lowest layer */
  for (int k = 1; k < n_slots; k++) {
    const dc_source_layers *src = sources[k];
    int l = src ? dc_source_lowest_layer(src) : DC_LAYER_OFF;
    if (l == DC_LAYER_OFF || used + src->layer_bps[l] > budget_bps)
      continue;
    layers[k] = l;
    used += src->layer_bps[l];
  }
  return used;
}

#define HOLD_FIRST_US 8000000
#define HOLD_MAX_US 120000000

void dc_upgrade_guard_init(dc_upgrade_guard *g) {
  memset(g, 0, sizeof *g);
  g->layer = DC_LAYER_OFF;
}

int dc_upgrade_guard_apply(dc_upgrade_guard *g, int chosen, uint64_t now_us) {
  if (g->upgraded_us && now_us - g->upgraded_us >= DC_UPGRADE_TRIAL_US) {
    g->upgraded_us = 0; /* the last move up held */
    g->hold_us = 0;
  }
  if (chosen == DC_LAYER_OFF || g->layer == DC_LAYER_OFF) {
    g->layer = chosen;
    return chosen;
  }
  if (chosen > g->layer) {
    if (now_us < g->blocked_until_us)
      return g->layer;
    g->upgraded_us = now_us ? now_us : 1;
  } else if (chosen < g->layer && g->upgraded_us) {
    g->hold_us = g->hold_us ? MIN_U64(g->hold_us * 2, HOLD_MAX_US) : HOLD_FIRST_US;
    g->blocked_until_us = now_us + g->hold_us;
    g->upgraded_us = 0;
  }
  g->layer = chosen;
  return chosen;
}

bool dc_upgrade_guard_blocked(const dc_upgrade_guard *g, uint64_t now_us) {
  return now_us < g->blocked_until_us;
}

void dc_upgrade_guard_probe_failed(dc_upgrade_guard *g, uint64_t now_us) {
  g->hold_us = g->hold_us ? MIN_U64(g->hold_us * 2, HOLD_MAX_US) : HOLD_FIRST_US;
  g->blocked_until_us = now_us + g->hold_us;
}

/* ---- probing ---- */

void dc_probe_start(dc_probe *p, uint64_t target_bps, unsigned congestion_signals, uint64_t sent_bytes,
                    uint64_t now_us) {
  p->running = true;
  p->target_bps = target_bps;
  p->started_us = now_us;
  p->signals_at_start = congestion_signals;
  p->sent_at_start = sent_bytes;
  p->achieved_bps = 0;
  p->remb_fell = false;
  p->covered = false;
}

bool dc_probe_may_start(uint64_t target_bps, uint64_t estimate_bps, uint64_t sent_bps, uint64_t remb_bps,
                        uint64_t quiet_since_us, uint64_t now_us) {
  bool quiet = quiet_since_us && now_us - quiet_since_us >= DC_PROBE_QUIET_US;
  bool room = !remb_bps || remb_bps >= sent_bps;
  return quiet && room && target_bps > estimate_bps && target_bps > sent_bps;
}

uint64_t dc_probe_within_reach(uint64_t target_bps, uint64_t estimate_bps, uint64_t remb_bps, uint64_t ceiling_bps) {
  /* a REMB says up to 2^63 bit/s and more (rtcp.c saturates its exponent): no wrap here */
  uint64_t reach = MAX_U64(estimate_bps, remb_bps > UINT64_MAX / 3 ? UINT64_MAX : remb_bps * 3 / 2);
  if (remb_bps && target_bps > reach)
    target_bps = reach;
  return MIN_U64(target_bps, ceiling_bps);
}

bool dc_probe_worth(uint64_t need_bps, uint64_t ceiling_bps) {
  return need_bps <= ceiling_bps / 5 * 4;
}

void dc_probe_on_report(dc_probe *p, uint64_t now_us) {
  if (p->running && now_us - p->started_us >= DC_PROBE_US / 3)
    p->covered = true;
}

void dc_probe_on_remb(dc_probe *p, uint64_t remb_bps) {
  if (p->running && p->remb_bps && remb_bps < p->remb_bps * 97 / 100)
    p->remb_fell = true;
  p->remb_bps = remb_bps;
}

dc_probe_state dc_probe_step(dc_probe *p, unsigned congestion_signals, uint8_t fraction_lost, uint64_t sent_bytes,
                             uint64_t now_us) {
  if (!p->running)
    return DC_PROBE_IDLE;
  uint64_t elapsed = now_us - p->started_us;
  if (elapsed)
    p->achieved_bps = (sent_bytes - p->sent_at_start) * 8 * 1000000 / elapsed;
  if (congestion_signals != p->signals_at_start || fraction_lost > LOSS_HIGH || p->remb_fell) {
    p->running = false;
    return DC_PROBE_FAILED;
  }
  if (elapsed >= DC_PROBE_US && (p->covered || elapsed >= 2 * DC_PROBE_US)) {
    p->running = false;
    return p->covered && p->achieved_bps >= p->target_bps * 9 / 10 ? DC_PROBE_PASSED : DC_PROBE_FAILED;
  }
  return DC_PROBE_RUNNING;
}
