/* mixer.h — the audio mixer's sans-IO core: Opus packets and a 20 ms tick in, one encoded
 * packet per listener out, with a cost that grows with talkers and tiers, not listeners.
 *
 * Per participant: a jitter buffer of 32 packets whose playout depth follows the measured
 * interarrival jitter (RFC 3550 §6.4.1 estimator; 20–200 ms); playout starts as close behind
 * the newest packet as the next one's arrival, twice the jitter and 5 ms allow (from the
 * newest itself when it came early enough before the tick), frames of 10/20/40/60 ms,
 * a lost frame recovered from the next packet's in-band FEC when it carries one (RFC 6716
 * §2.1.7) and concealed by Opus PLC otherwise.
 *
 * Talkers: the client-to-mixer audio level (RFC 6464) picks candidates without decoding;
 * a participant whose packets carry no level is decoded and measured instead (but not while
 * its newest packet is DTX), with K + 8 decoders: where more such participants send sound at
 * once, the decoders held to measure quiet ones go round (200 ms each), talkers first. The K
 * loudest (default 3) are mixed, with hysteresis: a talker keeps its place through 600 ms
 * of silence, and a newcomer must be 6 dB louder than the quietest talker to take it.
 * Silent, DTX and muted participants are not decoded.
 *
 * Output: one mix of all talkers, encoded once per tier in use, which every listener on
 * that tier receives; and for each talker its own mix without its voice (N−1), encoded at
 * its tier. Encodes per tick = tiers in use + talkers (+ highland copies), less the mixes
 * that are digital silence (a lone talker's own, every mix while nobody speaks): those are
 * sent as their stream's last silent frame again once it has settled. Mixing is in 32 bits
 * with a soft limiter above −6 dBFS, so the sum of loud talkers never clips.
 *
 * Tiers and their Opus encoder settings (application VoIP, mono, 48 kHz):
 *   hall      48 kbit/s, 20 ms frames (40 in a big room: dc_mixer_tier_frame), complexity 7
 *   standard  32 kbit/s, 20 ms frames (40 in a big room), in-band FEC (expects 10 % loss until told), complexity 7
 *   highland  14 kbit/s, 60 ms frames, in-band FEC (expects 15 % loss until told), DTX, complexity 9:
 *             at this rate 60 ms frames cut the 50 B/packet overhead to a third, and the
 *             encoder's extra effort is spent once per tier, not per listener; beside
 *             it the same mix at 8 kbit/s wideband, the copy RED (RFC 2198) carries,
 *             made while a listener takes copies (dc_mixer_want_copies), for the tier's
 *             mix and a highland talker's own alike; in-band FEC is asked for, but
 *             libopus adds none at this rate (dc_mixer_red_reach_policy), so the copies
 *             are the tier's only repair
 *
 * Threads: none; one mixer belongs to one room and is driven by its mix clock.
 * After a stall (a thin link's queue, then its packets in a burst) playout waits and goes on
 * from where it stopped rather than from the newest packet: nothing that arrived is thrown
 * away. The depth that leaves is brought back by dropping frames the audio level calls
 * quiet (the pauses between words); a frame with voice is dropped only when the buffer runs
 * more than 400 ms too deep (one without a level at once), those at most one per 300 ms. A
 * buffer deeper than its talker's arrivals need — every packet of the last 5-10 s had a
 * frame and 5 ms to spare — also gives a quiet frame back. Frames found missing after ticks
 * concealed waiting for them are not concealed again (unless the next packet's FEC carries
 * one).
 * A talker that went quiet (DTX) and speaks again starts afresh.
 *
 * Left out: stereo, sample rates other than 48 kHz, time-stretching (NetEq's accelerate and
 * expand: dropping whole quiet frames is the crude form of the first).
 */
#ifndef DC_MIXER_H
#define DC_MIXER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/error.h"
#include "media/rtp.h"

#define DC_MIX_RATE 48000
#define DC_MIX_TICK 960        /* samples in one 20 ms tick */
#define DC_MIX_MAX_FRAME 2880  /* 60 ms */
#define DC_MIX_MAX_TALKERS 8
#define DC_MIX_MAX_PACKET 1275 /* RFC 6716 §3.4: the largest Opus packet */

typedef enum { DC_TIER_HALL, DC_TIER_STANDARD, DC_TIER_HIGHLAND, DC_TIER_COUNT } dc_tier;

const char *dc_tier_name(dc_tier tier);
/* "hall", "standard", "highland" (a join's link profile) to a tier; false if unknown. */
bool dc_tier_from_name(const char *name, dc_tier *tier);

typedef struct {
  unsigned max_participants; /* slots allocated up front */
  unsigned talkers;          /* K, 1..DC_MIX_MAX_TALKERS; 0 = 3 */
  unsigned big_tier;         /* members at which a tier's mix goes in 40 ms frames; 0 = DC_MIX_BIG_TIER */
} dc_mixer_config;

typedef struct dc_mixer dc_mixer;

dc_mixer *dc_mixer_new(const dc_mixer_config *cfg, GError **error);
void dc_mixer_free(dc_mixer *m);

/* Returns the participant's slot, used by every later call, or -1 when full. */
int dc_mixer_add(dc_mixer *m, dc_tier tier);
void dc_mixer_remove(dc_mixer *m, int slot);
void dc_mixer_set_muted(dc_mixer *m, int slot, bool muted);

/* One received Opus packet. level_dbov: the RFC 6464 level (0 loudest .. 127 silent), or -1
 * when the packet carries none. Packets from muted, removed or unknown slots are ignored,
 * and so are payloads that are not valid Opus. */
void dc_mixer_push(dc_mixer *m, int slot, const dc_rtp *pkt, int level_dbov, uint64_t now_us);

/* A frame recovered from redundancy (RFC 2198: a copy an RTP packet carried of an earlier
 * one), with the sequence number and timestamp its own packet had, come at now_us with the
 * packet that carried it. It fills the jitter buffer only where that frame is missing and not
 * yet due (true then); it moves nothing else (jitter, loudness, the newest timestamp). */
bool dc_mixer_push_recovered(dc_mixer *m, int slot, uint16_t seq, uint32_t ts, const uint8_t *payload,
                             size_t len, uint64_t now_us);

typedef struct {
  const uint8_t *payload;
  size_t len;
  uint32_t samples;   /* duration at 48 kHz: 960, 1920 (a big room) or 2880 */
  uint8_t level_dbov; /* the mix's level, for the RFC 6464 extension on the way out */
  /* The same audio at DC_MIX_COPY_BITRATE, for the redundancy (RFC 2198) of a later packet;
   * copy_len 0 where there is none (another tier's mix, or no copies wanted, or the copy came
   * out no smaller): the payload is the copy then. A thin link carries the mix and a copy as
   * large only by queueing (14 kbit/s twice and the headers are 37 kbit/s; with this copy
   * about 31); a receiver that lost the primary is better served by a smaller copy in time
   * than by a full one late. */
  const uint8_t *copy;
  size_t copy_len;
} dc_mixer_packet;
#define DC_MIX_COPY_BITRATE 8000

/* Runs one 20 ms tick: plays out, mixes and encodes. now_us: the tick's deadline on the clock
 * dc_mixer_push's times come from (where a talker's playout starts depends on how long
 * before the tick its newest packet came). */
void dc_mixer_tick(dc_mixer *m, uint64_t now_us);

/* What to send this participant after this tick: its own mix if it is a talker, else its
 * tier's; NULL when there is nothing this tick (a 60 ms tier sends every third tick). */
const dc_mixer_packet *dc_mixer_packet_for(const dc_mixer *m, int slot);

/* Big rooms. A tier of 20 ms frames with DC_MIX_BIG_TIER members or more (the config's
 * big_tier) sends its shared mix in 40 ms frames, and a talker picked meanwhile gets its own
 * in them too; below four fifths of that it goes back to 20 ms (each change at a frame's end). Half the
 * packets: the bridge's cost in a big room is mostly the kernel's send of each listener's
 * mix (README, issue 15), and each listener's link carries half the headers (~12 kbit/s less
 * at 32 kbit/s). The price is 20 ms more mouth to ear, in rooms where nearly everyone
 * listens. The highland tier's frames are 60 ms already. */
#define DC_MIX_BIG_TIER 100
#define DC_MIX_BIG_FRAME (2 * DC_MIX_TICK)
/* The frame the tier's shared mix is encoded in now (samples at 48 kHz); 0 for no tier. */
unsigned dc_mixer_tier_frame(const dc_mixer *m, dc_tier tier);

/* Current talkers (slots, loudest first) and the dominant speaker (-1 when nobody talks). */
size_t dc_mixer_talkers(const dc_mixer *m, int *slots, size_t cap);
int dc_mixer_dominant(const dc_mixer *m);

/* In-band FEC (RFC 6716 §2.1.7) follows the loss a tier's listeners report: the percent the
 * tier's encoders should protect against, from the worst recent loss among its listeners
 * (1/256, as RTCP reports it): that loss plus a quarter (losses come in bursts), at least
 * half the tier's default (5 % standard, 7 % highland; hall 0), at most 30 %. */
unsigned dc_mixer_expected_loss_policy(dc_tier tier, unsigned worst_loss_256);
/* Audio redundancy (RFC 2198) toward a listener: how many earlier frames go with each packet
 * of its mix, from the worst audio loss it reported lately (1/256; 0: none) and whether loss
 * on its link comes in runs. None on a clean link; one; two from 8 % loss, on the highland
 * tier only when the loss comes in runs. A second copy is for a run of two or more lost: it
 * lifted a 64 kbit/s radio link with bursty loss to 95.9-96.6 % of frames unconcealed (one
 * copy 93.7-96.0 %) but random loss rarely takes two packets together (one copy: 96.4-97.9 %
 * on a 32 kbit/s link, which two copies fill: mouth to ear 584 ms against 391). Whether the
 * link has room for them is the caller's to know (the bridge: what it carried lately). */
#define DC_RED_DEPTH_MAX 2
unsigned dc_mixer_red_depth_policy(dc_tier tier, unsigned loss_256, bool loss_in_runs);
/* How far back a listener's copies reach, in frames: its `depth` copies are the frames from
 * that far back to depth - 1 frames nearer (RFC 2198 gives each block its own timestamp
 * offset). A frame r back repairs a run of r lost whole (each frame from the packet r after
 * it) and a lone loss as well, at the same rate; the listener must wait r frames for it.
 * Where the loss is random the copies end one back: runs are rare, and a copy further back
 * comes later, with more chance of coming too late (the endpoint on a 32 kbit/s link losing
 * 10 % at random played 98.1-99.3 % of frames unconcealed with copies one back over five
 * runs, 97.9-98.1 % three back over two: no gain). Where it comes in runs, the frame before
 * repairs only the last of a run, so:
 * - a listener that says how long its jitter buffer waits for a late or repaired packet
 *   (`wait_ms`: the native endpoint, in its join's audio_wait_ms and audio_wait) gets the
 *   furthest that wait allows with DC_RED_COPY_MARGIN_MS to spare for the link's jitter,
 *   whatever the bridge has seen of its loss: the endpoint judges runs in its mix itself and
 *   says less (140 ms: one back) once its losses come alone, while the bridge sees runs only
 *   on the point's uplink, which says nothing while its clerk is quiet (DTX: a packet each
 *   420 ms). On the radio link (runs of three on average) the endpoint waiting 260 ms played
 *   93.4-97.4 % of frames unconcealed with copies three back where, waiting 200, it played
 *   91.8-94.7 % with copies two back and 90.0 % with copies three back (README, the link lab);
 * - one that does not (a browser, whose buffer grows to what the copies need) gets copies
 *   two back on the highland tier where its link loses in runs (as its reports spread their
 *   losses, or as its uplink loses: dc_loss_reports_in_runs): libopus 1.3.1 puts no in-band FEC in the tier's 60 ms
 *   frames at 14 kbit/s (it starts at 18), whatever loss it is told, so nothing else covers
 *   a run.
 * Never less than `depth`, never more than DC_RED_REACH_MAX: what a sender keeps. */
#define DC_RED_REACH_MAX 3
#define DC_RED_COPY_MARGIN_MS 80
unsigned dc_mixer_red_reach_policy(dc_tier tier, unsigned depth, bool loss_in_runs, unsigned wait_ms);
/* Which of a listener's mix packets go on the wire. An Opus packet of DC_DTX_FRAME_MAX bytes
 * or less is a DTX frame: its TOC byte and nothing coded (RFC 6716 §3.2.1 allows frames of
 * no bytes), which the highland tier's encoder makes for silence every 60 ms: ~6 kbit/s
 * of a 64 kbit/s link with the headers and SRTP's tag (the lab: 9.5 kbit/s to a point that
 * speaks, 3.2 with them held back), whenever the point's mix is quiet (always while it
 * speaks itself). The first after sound goes, so the listener's decoder
 * knows the mix went quiet and makes its own comfort noise (WebRTC's receivers take such a
 * packet for DTX and its senders send only the first); the next ones do not, but for one
 * every DC_DTX_REFRESH_US (libopus's own DTX refreshes as often), so a listener that lost the
 * first learns it all the same and a quiet mix is never a silent link. To a listener that
 * reports loss the pause's second DTX frame goes DC_DTX_REPEAT_US after the first: a lost
 * first would leave its receiver concealing (a browser plays its PLC's fading buzz, and counts
 * it concealed) until the next packet, up to a refresh later; two frames of the highland
 * tier apart, a fade of two packets does not take both. The first packet after
 * frames held back starts a talkspurt: the RTP marker bit (RFC 3551 §4.1). The caller's
 * timestamps go on over the frames held back; its sequence numbers do not. */
#define DC_DTX_FRAME_MAX 2
#define DC_DTX_REFRESH_US 400000
#define DC_DTX_REPEAT_US 120000
typedef struct {
  uint8_t quiet_sent; /* DTX frames sent since the last that was not (at most 2) */
  bool held;          /* frames were held back since the last that was not */
  uint64_t sent_us;   /* when the last went */
} dc_dtx_gate;
/* Whether a frame of len bytes goes now to a listener that reports loss (lossy) or not; if
 * so, *talkspurt says whether it starts one. */
bool dc_dtx_gate_pass(dc_dtx_gate *g, size_t len, bool lossy, uint64_t now_us, bool *talkspurt);
/* The audio loss a listener reported lately, for the two policies above: the worst of its
 * reports that came within hold_us (the last DC_LOSS_REPORTS of them: a page that receives
 * video reports about every second), as long as the last that showed any loss did (0 after).
 * Keeping only the worst so far, renewed by a report as bad, let the hold run out between two
 * lossy reports: an audio-only receiver reports about every 5 s (2.5 to 7.5, RFC 3550
 * §6.3.1), and the copies then stopped until the next report (seen in the link lab: a report
 * of 16 % loss found the 10 s hold gone). */
#define DC_LOSS_REPORTS 12
typedef struct {
  uint8_t loss[DC_LOSS_REPORTS]; /* fraction lost, 1/256, as RTCP says it */
  uint64_t at_us[DC_LOSS_REPORTS];
  unsigned n, next;
  uint64_t lossy_us; /* when the last report with loss came; 0: none yet */
  uint32_t ext_highest; /* the extended highest sequence number the last one covered */
  /* the live figure (dc_loss_reports_recent): counts when it was last made */
  uint32_t anchor_highest;
  int32_t anchor_lost;
  bool have_recent;
  uint8_t recent;
  /* the spread of the reports' losses (dc_loss_reports_in_runs): sums over their intervals
   * (packets expected e, lost l), halved past DC_LOSS_SPREAD_KEPT so that recent ones count */
  double spread_n, spread_e, spread_l, spread_ll, spread_le, spread_ee;
  uint32_t spread_highest;
  int32_t spread_lost;
  bool spread_anchored;
} dc_loss_reports;
/* Takes a report block (RFC 3550 §6.4.1) unless it covers no packet the last one did not:
 * its extended highest sequence number has not moved, so its interval is empty and its
 * fraction lost 0 by definition, whatever the link lost. GStreamer's rtpsession (the native
 * endpoint) sends such: a block on our stream from each of its own streams, the first over
 * the interval, the others over nothing after it (24, 0, 0 /256 in one report); the last
 * then hid the loss from the live view, and each one told the bandwidth estimate of an
 * audio-only receiver that its link was clean. One far behind (DC_LOSS_REPORTS_RESTART) is
 * a receiver that counts afresh and is taken. Whether it was taken. */
#define DC_LOSS_REPORTS_RESTART 3000
bool dc_loss_reports_add(dc_loss_reports *r, uint8_t fraction_lost, uint32_t ext_highest, int32_t cumulative_lost,
                         uint64_t now_us);
/* The loss to show (the operators' live view), 1/256, -1 before the first report: from the
 * blocks' cumulative counts over at least DC_LOSS_RECENT_PACKETS, not the last block's
 * fraction, which may cover a few packets (the endpoint's blocks are not all a report
 * interval apart): 0 of 13 was shown while its link lost 15 %. */
#define DC_LOSS_RECENT_PACKETS 64
int dc_loss_reports_recent(const dc_loss_reports *r);
unsigned dc_loss_reports_worst(const dc_loss_reports *r, uint64_t now_us, uint64_t hold_us);
/* Whether the listener's reports say its link loses our packets in runs (a radio link's
 * fades), which the bridge otherwise judges from the listener's own uplink
 * (dc_rx_stream_loses_in_runs): that says nothing of a point that sends little, and a
 * listening page sends its held microphone's silence, which the kernel's filter drops
 * (bridge/silence_filter.h), so a listening page on a radio link had its copies one frame
 * back, where a fade of three takes them with their frames. A report (RFC 3550 §6.4.1) gives
 * no loss pattern, only how many of the packets since the last were lost; over several
 * reports the spread of those counts tells: lone losses at a rate p leave l of e lost with a
 * variance of about e·p·(1 − p) (binomial), runs of mean length m multiply it by about
 * 2m − 1 (each run lost whole). The ratio of the counts' squared deviations from e·p to that
 * binomial variance is ~1 for random loss and ~5 for the link lab's bursty radio (runs of 3);
 * runs from DC_LOSS_SPREAD_RUNS (the uplink's rule of 1.6 packets a gap), over at least
 * DC_LOSS_SPREAD_MIN intervals with DC_LOSS_SPREAD_MIN_LOST lost. By the unit test's draws
 * (a 60 ms mix, 10 % lost): random loss is taken for runs by 3 % of links after six reports,
 * none after twelve; runs of three are seen by 68 % after six, 85 % after twelve (a lower
 * bar saw more runs and more random links as runs: 2.0, 72 and 89 % against 5 and 1 %).
 * Taking random loss for runs costs copies a frame further back (a page's jitter buffer
 * grows to wait for them, ~60 ms, for nothing); missing runs costs the frames. An interval
 * that lost more than half its packets is an outage, not a run, and counts nothing; an
 * audio-only receiver reports every 2.5-7.5 s, so the judgement comes about 30 s into a
 * lossy link. */
#define DC_LOSS_SPREAD_MIN 6
#define DC_LOSS_SPREAD_MIN_LOST 6
#define DC_LOSS_SPREAD_KEPT 24
#define DC_LOSS_SPREAD_RUNS 2.2
bool dc_loss_reports_in_runs(const dc_loss_reports *r);
/* A report not taken (one covering an outage, which the caller knows of): the spread's next
 * interval starts after it, so the outage's losses are not read as a run. */
void dc_loss_reports_follow(dc_loss_reports *r, uint32_t ext_highest, int32_t cumulative_lost);

/* Whether a listener on the tier takes RED copies now: the highland tier's copies (one more
 * encode a frame, and one per highland talker) are made only then. */
void dc_mixer_want_copies(dc_mixer *m, dc_tier tier, bool wanted);
/* Sets it for the tier's mix and its talkers' own mixes; cheap when nothing changes. */
void dc_mixer_set_expected_loss(dc_mixer *m, dc_tier tier, unsigned percent);

/* Encoders at less effort (Opus complexity 5 on the hall and standard tiers, ~2/3 of their
 * encodes' CPU, 7 on highland, ~3/4; a log-spectral distance at most ~0.2 dB larger), or back
 * at the tiers' own: the mix clock's choice when mixing takes too much of its time (bridge/audio.c). Cheap
 * when nothing changes. */
void dc_mixer_set_reduced_effort(dc_mixer *m, bool reduced);
/* The complexity the tier's encoders use now; -1 for no such tier. */
int dc_mixer_complexity(const dc_mixer *m, dc_tier tier);

typedef struct {
  unsigned decodes, encodes; /* in the last tick */
  /* in the last tick: frames of digital silence sent as the stream's last silent frame again
   * instead of an encode (a lone talker's own mix, a meeting where nobody speaks) */
  unsigned silence_resent;
  /* in the last tick: packets played from the jitter buffers, the time they waited there
   * (from dc_mixer_push to the tick that began playing them), and ticks a talker was
   * concealed while its playout waited for a packet that had not come (a late one, each
   * leaving that talker's playout a tick deeper, or the first ticks of a pause in DTX) */
  unsigned played, late_waits;
  uint64_t played_wait_us;
  /* in the last tick: frames missing before a packet that did come (lost on the way in),
   * concealed by Opus PLC, and those played from the next packet's in-band FEC instead */
  unsigned concealed, fec_played;
  unsigned participants;
  /* since the mixer began: frames thrown away unplayed to bring a buffer back to its depth
   * (after a burst, or stale at a fresh start), and of them those whose level said voice */
  unsigned long frames_dropped, voiced_dropped;
} dc_mixer_stats;
dc_mixer_stats dc_mixer_get_stats(const dc_mixer *m);

#endif
