/* router.h — the video router's per-slot core, sans-IO.
 *
 * A slot is one outgoing video stream of a receiver (its main slot or a thumbnail), with the
 * bridge's own SSRC. Whichever source and simulcast layer feeds it, the receiver must see
 * one continuous VP8 stream: dc_slot_forward rewrites SSRC, sequence number, timestamp,
 * PictureID and TL0PICIDX (RFC 7741 §4.2) so that a switch looks like the next frame, and
 * it switches to a newly wanted source or layer only where that one starts a key frame
 * (RFC 7741 §4.3); until then the old one keeps flowing. Gaps that are real loss stay gaps:
 * offsets change only at a switch, so the receiver's NACKs still name real packets.
 *
 * dc_pli_throttle keeps a source from being asked for key frames more than a few times a
 * second, however many receivers switch to it (RFC 4585 §6.3.1 PLI; RFC 5104 §4.3.1 FIR).
 *
 * dc_bwe is a receiver's bandwidth estimate. It moves with the loss in its receiver reports,
 * in the manner of GCC's loss controller (draft-ietf-rmcat-gcc-02 §6: above 10 % loss cut by
 * half the loss, below 2 % grow 8 % a second up to 1.5 times what the receiver gets, as
 * GCC §5.5 bounds its own; between, hold), and drops to its REMB
 * (draft-alvestrand-rmcat-remb; Chrome computes it from our abs-send-time) when that falls
 * below what we send and has not risen since the last one: a queue is building on the way
 * (a REMB still climbing after we sent more only lags). A REMB above the estimate, with no
 * loss, lifts it there (the way back after a cut). Above 1.5 times what a receiver gets, only
 * a probe (dc_probe, padding up to the rate wanted) lifts the estimate: Chrome never reports
 * more than 1.5 times what it receives, so without probes a receiver would stay on its
 * lowest layer for good, and an estimate left to grow unchecked chose layers the link could
 * not carry.
 * The seam for transport-cc is dc_bwe_on_delay_estimate: a send-side delay estimate would
 * arrive there as REMB's does.
 *
 * dc_choose_layers fits a receiver's slots under its estimate: the main slot first, at the
 * highest layer that fits, then thumbnails at their lowest layer while they fit; so when
 * bandwidth shrinks, thumbnails stop before the main slot does, and the main slot keeps its
 * lowest layer down to a third of that layer's rate (main_playing); once off, it resumes
 * when half of it fits (thinned to its base temporal layer by the caller).
 *
 * Temporal-layer thinning (dc_slot.thin) keeps a slot's base layer and sends the rest as
 * padding.
 *
 * dc_probe tries a main slot's move up a layer on padding first (padding-only RTX up to the
 * rate after the move, for DC_PROBE_US): the estimate rises above 1.5 times what the
 * receiver gets only when the receiver's feedback meanwhile shows no congestion.
 *
 * Left out: probing when a slot resumes from off or a thumbnail comes on (each waits until
 * its layer fits whole), and probing a receiver without RTX (its upgrade is the probe, as
 * before, behind dc_upgrade_guard).
 */
#ifndef DC_ROUTER_H
#define DC_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

#define DC_SLOT_NONE (-1)

typedef struct {
  uint32_t out_ssrc;
  uint8_t out_pt;
  /* what feeds the slot now, and what should */
  int64_t source, want_source; /* DC_SLOT_NONE: nothing */
  int layer, want_layer;
  /* continuity: out = in + delta, per field */
  bool started;
  uint32_t in_ssrc;
  uint16_t seq_delta, last_seq;
  uint32_t ts_delta, last_ts;
  uint16_t pid_delta, last_pid;
  uint8_t tl0_delta, last_tl0;
  uint64_t last_us;
  uint16_t base_seq; /* the first outgoing sequence number of what plays now (at most
                      * 16 384 behind the newest: see forward() in router.c) */
  unsigned switches;
  /* Sequence numbers the slot passed over because they never reached us (the source's own
   * losses), less those filled later: what a receiver counts as lost that its leg did not
   * lose. The last few skips, by where they happened, place the count at a report's
   * highest sequence number. */
  uint32_t skipped;
  struct {
    uint16_t after; /* the first sequence number sent after the skip */
    uint16_t n;
  } skips[32];
  unsigned skip_next;
  /* Temporal-layer thinning (set by the caller): a packet of a VP8 temporal layer above
   * keep_tid goes out as a padding-only packet under its own sequence number, so the receiver
   * sees no gap (nothing to NACK) and decodes the layers kept; a repair the receiver asks for
   * goes whole. With the three temporal layers
   * of Chromium's simulcast, keep_tid 1 keeps half the frames, 0 a quarter (the base layer,
   * roughly 40 % of the bits). */
  bool thin;
  uint8_t keep_tid;
  size_t out_len; /* after DC_SLOT_SEND: the bytes to send (less than len when thinned) */
} dc_slot;

void dc_slot_init(dc_slot *s, uint32_t out_ssrc, uint8_t out_pt);
/* What the slot should carry from now on; the switch happens at that source's next key
 * frame. DC_SLOT_NONE stops the slot at once. */
void dc_slot_want(dc_slot *s, int64_t source, int layer);
/* True when the slot waits for a key frame from its wanted source (ask for one). */
bool dc_slot_needs_keyframe(const dc_slot *s);

typedef enum {
  DC_SLOT_DROP,    /* not for this slot (another source or layer, or no key frame yet) */
  DC_SLOT_SEND,    /* buf was rewritten in place: send it */
  DC_SLOT_INVALID, /* not a VP8 RTP packet we can forward */
} dc_slot_result;

/* buf holds len bytes of a decrypted RTP packet from `source` at simulcast `layer`.
 * now_us is the caller's clock (for the frame gap used at a switch). */
dc_slot_result dc_slot_forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                               uint64_t now_us);
/* The same rewrite for a packet sent before, going back to a receiver that asked for it
 * (wrapped as RTX by the caller): it switches nothing and fills no gap. */
dc_slot_result dc_slot_forward_repair(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                                      uint64_t now_us);

/* A packet of the source's stream that carries nothing for the receiver (a sender's FEC
 * packet the bridge used itself): it goes on as padding only, under the number it would have,
 * so that the receiver sees no gap to NACK or to count as lost. Only while that stream plays
 * here (it starts nothing); buf is rewritten in place, s->out_len its length. */
dc_slot_result dc_slot_forward_filler(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                                      uint64_t now_us);

/* The incoming sequence number behind outgoing out_seq, for a NACK: false when out_seq is
 * not of what plays now (from before the last switch, or not yet sent). */
bool dc_slot_source_seq(const dc_slot *s, uint16_t out_seq, uint16_t *in_seq);

/* The loss on the bridge-to-receiver leg alone, from the receiver's reports about a slot.
 * Forwarded video keeps the source's own losses as gaps (so NACKs name real packets), and a
 * receiver's report counts them too: one commune's lossy uplink would cut every receiver's
 * estimate. Between two reports, the leg lost what the receiver's cumulative count grew by,
 * less what the slot skipped up to the report's highest sequence number. */
typedef struct {
  bool have;
  int32_t cumulative_lost;
  uint32_t ext_highest;
  uint32_t skipped;
} dc_leg_loss;

/* fraction_lost (1/256) of the leg since the last report: the report's own fraction for the
 * first one, never more than it; -1 when no packet was expected since (nothing to say). */
int dc_leg_loss_update(dc_leg_loss *l, const dc_slot *s, uint8_t fraction_lost,
                       int32_t cumulative_lost, uint32_t ext_highest);

typedef struct {
  uint64_t interval_us;
  uint64_t last_us;
  bool ever;
} dc_pli_throttle;

/* True when a key-frame request may go to the source now (and records it). */
bool dc_pli_allow(dc_pli_throttle *t, uint64_t now_us);

/* ---- bandwidth estimate per receiver ---- */

typedef struct {
  uint64_t floor_bps, ceiling_bps;
  uint64_t estimate_bps;
  uint64_t last_change_us;
  uint64_t remb_bps;        /* the receiver's last REMB, for the record */
  uint64_t settle_floor_bps, settle_until_us; /* after a failed probe: see dc_bwe_on_probe_failed */
  uint8_t last_fraction_lost;
  unsigned congestion_signals;
} dc_bwe;

/* initial_bps: before any feedback, from the receiver's link profile. */
void dc_bwe_init(dc_bwe *b, uint64_t initial_bps, uint64_t floor_bps, uint64_t ceiling_bps);
/* The receiver's REMB, and what we sent it lately (media included, bits per second). */
void dc_bwe_on_remb(dc_bwe *b, uint64_t remb_bps, uint64_t sent_bps, uint64_t now_us);
/* A delay-based estimate from elsewhere (transport-cc later); treated as REMB is. */
static inline void dc_bwe_on_delay_estimate(dc_bwe *b, uint64_t bps, uint64_t sent_bps, uint64_t now_us) {
  dc_bwe_on_remb(b, bps, sent_bps, now_us);
}
/* fraction_lost in 1/256, from a receiver report block about our streams; sent_bps: what we
 * sent lately (0: unknown). Without loss the estimate grows, but not past 1.5 times sent_bps:
 * more than that only a probe shows (dc_bwe_on_probe). */
void dc_bwe_on_loss(dc_bwe *b, uint8_t fraction_lost, uint64_t sent_bps, uint64_t now_us);
/* A probe at probed_bps passed (dc_probe): the link carries that much. */
void dc_bwe_on_probe(dc_bwe *b, uint64_t probed_bps, uint64_t now_us);
/* A probe failed: the cut its own padding caused is undone, back to the estimate before it
 * (the link carried that; the queue the padding made drains as it stops). Without this, a
 * failed probe on a 128 kbit/s link cut the estimate below the main slot's floor and paused
 * the picture for ten seconds. For DC_PROBE_SETTLE_US after, the receiver's falling REMBs
 * cut no lower than carried_bps, what went out before the probe and arrived: Chrome's
 * estimator, thrown by the padding's queue, went on falling to a quarter of the link for
 * seconds after the padding stopped (29 kbit/s on a 128 kbit/s link), and took the picture
 * with it. Loss still cuts as always. */
#define DC_PROBE_SETTLE_US 5000000
void dc_bwe_on_probe_failed(dc_bwe *b, uint64_t before_bps, uint64_t carried_bps, uint64_t now_us);
static inline uint64_t dc_bwe_estimate(const dc_bwe *b) { return b->estimate_bps; }

/* ---- layer choice ---- */

#define DC_MAX_LAYERS 4
#define DC_LAYER_OFF (-1)

/* What one source offers: the bitrate of each simulcast layer now, lowest first; 0 when the
 * layer is not arriving. A source without simulcast has one layer. */
typedef struct {
  int n_layers;
  uint64_t layer_bps[DC_MAX_LAYERS];
} dc_source_layers;

/* The lowest layer arriving, or DC_LAYER_OFF when none is. */
int dc_source_lowest_layer(const dc_source_layers *src);

/* What layer l of src is taken to cost: what it measures, but at least twice the layer below
 * it (four times its pixels). A layer the sender has just turned on measures a fraction of
 * its rate while its encoder ramps up: taken at its word, a 128 kbit/s point was moved to a
 * 40 kbit/s "h" layer that was 300 kbit/s two seconds later. 0 when l is not arriving. */
uint64_t dc_source_layer_cost(const dc_source_layers *src, int l);

/* sources[0] feeds the main slot, the rest thumbnails; NULL for an empty slot; main_playing:
 * the main slot is on now (it keeps its lowest layer down to a third). Writes a layer
 * index or DC_LAYER_OFF per slot into layers and returns the bitrate chosen. */
uint64_t dc_choose_layers(uint64_t budget_bps, const dc_source_layers *const *sources, int n_slots,
                          bool main_playing, int *layers);

/* A move up can still fail after its probe passed (or without one: a receiver without RTX
 * is not probed, and its move is the probe): when the slot comes back down within
 * DC_UPGRADE_TRIAL_US, or a probe fails (dc_upgrade_guard_probe_failed), the next try waits,
 * 8 s at first, doubling to 2 minutes; an upgrade that holds clears the wait. Without it a
 * link just below a layer's rate flips between two layers, each flip a key frame. */
#define DC_UPGRADE_TRIAL_US 5000000
typedef struct {
  int layer;                 /* what the slot plays now, DC_LAYER_OFF at first */
  uint64_t upgraded_us;      /* when it last moved up; 0 once the move has held */
  uint64_t hold_us, blocked_until_us;
} dc_upgrade_guard;

void dc_upgrade_guard_init(dc_upgrade_guard *g);
/* chosen: this round's choice for the slot. Returns the layer to use. */
int dc_upgrade_guard_apply(dc_upgrade_guard *g, int chosen, uint64_t now_us);
/* True while a failed move up keeps the slot where it is. */
bool dc_upgrade_guard_blocked(const dc_upgrade_guard *g, uint64_t now_us);
/* A probe for a move up failed: the next try waits as after a failed move. */
void dc_upgrade_guard_probe_failed(dc_upgrade_guard *g, uint64_t now_us);

/* ---- probing before a move up ----
 *
 * The estimate grows only to 1.5 times what a receiver gets (dc_bwe_on_loss), so a slot
 * cannot move up a layer on an estimate nobody tested: a move up costs a key frame of the
 * new layer and, when the link cannot carry the new rate, a queue that fills until the
 * estimate falls, then another key frame on the way down: on a thin link seconds of frozen
 * picture and late audio. Instead the caller probes: for DC_PROBE_US the receiver gets,
 * beside its media, padding-only RTX (dc_rtx_padding) up to target_bps, the rate after the
 * move; its REMB counts it (abs-send-time). If no congestion signal (a REMB falling:
 * dc_probe_on_remb, dc_bwe_on_remb) and no loss above 10 % came meanwhile, and at least 90 %
 * of the target went out, the probe passed
 * (dc_bwe_on_probe lifts the estimate to the target and the layer choice moves up). A
 * failed probe stops at once, costs no key frame, and holds the slot as a failed move would
 * (dc_upgrade_guard_probe_failed). Padding rather than copies of sent packets: simpler,
 * and nothing the receiver must sort from its media (GCC's probes, draft-ietf-rmcat-gcc-02
 * §5 and libwebrtc's prober, use either). */
#define DC_PROBE_US 1500000

typedef enum {
  DC_PROBE_IDLE,    /* none running */
  DC_PROBE_RUNNING, /* keep sending padding up to target_bps */
  DC_PROBE_PASSED,
  DC_PROBE_FAILED,
} dc_probe_state;

typedef struct {
  bool running;
  uint64_t target_bps;
  uint64_t started_us;
  unsigned signals_at_start;
  uint64_t estimate_at_start; /* the caller's, for dc_bwe_on_probe_failed */
  uint64_t sent_at_start;
  uint64_t achieved_bps; /* what went out while it ran, once ended */
  uint64_t remb_bps;     /* the receiver's last REMB */
  bool remb_fell;
  bool covered;          /* a report came from well inside the probe */
} dc_probe;

/* Whether a probe for target_bps may start now: one is wanted above both the estimate and
 * what goes out (sent_bps); the receiver's reports have shown no heavy loss or congestion
 * since quiet_since_us (0: no report yet) for DC_PROBE_QUIET_US (its first reports, or a cut,
 * say its estimate is still finding the link); and its REMB (0: it sends none) is not below
 * what we send: Chrome's REMB runs up to 1.5 times what arrives while no queue grows, and one
 * below what we send says there is no room. */
#define DC_PROBE_QUIET_US 5000000
bool dc_probe_may_start(uint64_t target_bps, uint64_t estimate_bps, uint64_t sent_bps, uint64_t remb_bps,
                        uint64_t quiet_since_us, uint64_t now_us);
/* The probe for target_bps the receiver's link may be asked for at once: at most 1.5 times its
 * REMB (0: it sends none, and the target stands), or the estimate where that is higher (then
 * no probe: dc_probe_may_start wants one above the estimate), and never above ceiling_bps (the
 * receiver's dc_bwe ceiling: a probe that passed there would lift the estimate no higher).
 * Chrome's REMB says at most 1.5 times what it gets, and a probe past that fills a thin link's
 * queue before a REMB can come back to say so (highland-128: a probe at 244 kbit/s, estimate
 * 122, REMB 114, froze the point's picture 3.3 s and put its audio 0.8 s late). The bound was
 * 1.5 times the higher of the two; but a highland point's estimate starts at its profile's 150
 * kbit/s, untested, and a probe at 225 kbit/s (141 went out, REMB 89) for a layer of the
 * district still ramping up dropped 19 of the point's packets in its link's queue, and its
 * jitter buffer went from 86 to 454 ms for the rest of the run (mouth to ear 717 ms where the
 * same seed gave 342). One that passes lifts the estimate, and the next starts from there. */
uint64_t dc_probe_within_reach(uint64_t target_bps, uint64_t estimate_bps, uint64_t remb_bps, uint64_t ceiling_bps);
/* Whether a move up that needs need_bps (the audio and the layer moved to) is worth a probe on
 * a receiver whose link is at most ceiling_bps (its profile's): only if the move fits with a
 * quarter to spare, as the pacer spreads bursts over 1.25 times what comes. A layer that fills
 * the link leaves nothing for its key frames, repairs and audio copies: a highland point on a
 * 128 kbit/s link was probed for the district's 220 kbit/s layer (244 kbit/s with its audio,
 * inside the profile's 256), at 179 kbit/s, 1.5 times its REMB; the probe failed, as on such a
 * link it must, and its padding put the page's NetEq target from 140 to 400 ms. */
bool dc_probe_worth(uint64_t need_bps, uint64_t ceiling_bps);
/* congestion_signals: the receiver's dc_bwe counter now; sent_bytes: all bytes sent to the
 * receiver so far (media and padding). */
void dc_probe_start(dc_probe *p, uint64_t target_bps, unsigned congestion_signals, uint64_t sent_bytes,
                    uint64_t now_us);
/* Each REMB while a probe runs. Chrome lowers its REMB (and sends it at once) only when it
 * sees a queue grow: one lower than the last by 3 % fails the probe at its next step. (The
 * estimate's own congestion signal waits a second after any change of the estimate, too
 * long for a probe: one at 474 kbit/s passed on a 250 kbit/s link.) */
void dc_probe_on_remb(dc_probe *p, uint64_t remb_bps);
/* Each receiver report while a probe runs: one from at least half a second into it covers
 * the probe, and a probe passes only when covered (a probe at 181 kbit/s passed on a
 * 128 kbit/s link, judged before any report about its packets came back); without one in
 * twice DC_PROBE_US it fails. */
void dc_probe_on_report(dc_probe *p, uint64_t now_us);
/* At each report or tick: the receiver's congestion signals, last loss (1/256) and bytes sent
 * so far. PASSED and FAILED are told once, then IDLE. A probe whose sender did not reach 90 %
 * of the target has shown nothing about the target and fails (one that passed at a third of
 * its padding lifted a 250 kbit/s link's estimate to 466 kbit/s). */
dc_probe_state dc_probe_step(dc_probe *p, unsigned congestion_signals, uint8_t fraction_lost, uint64_t sent_bytes,
                             uint64_t now_us);

#endif
