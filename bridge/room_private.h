/* room_private.h — what room.c, slots.c, source.c, audio.c, video.c and feedback.c share:
 * the participant, the room and the bridge as data, and the few calls that cross between
 * them. Not an interface: nothing outside bridge/ includes it (room.h is the interface).
 *
 * The files follow the data path (STYLE.md asked for the split):
 *   room.c      the bridge and its rooms, membership, transport events: the main thread
 *   slots.c     who fills each receiver's video slots, at which layer: the main thread
 *   source.c    a participant's RTP as it comes in: audio to audio.c, video by layer to the
 *               slots that carry it, repairs asked and rebuilt: the workers
 *   audio.c     the audio path: a point's audio into its room's mixer (the workers), and the
 *               20 ms mix clock and the mix it hands to each receiver (its own thread)
 *   video.c     a packet into a receiver's slot and out through its pacer, key-frame requests,
 *               probing, each participant's tick: the workers
 *   feedback.c  RTCP from each participant (reports, NACKs, key-frame requests, REMB) and our
 *               reports to it: the workers
 */
#ifndef DC_ROOM_PRIVATE_H
#define DC_ROOM_PRIVATE_H

#include "bridge/room.h"

#include "bridge/metrics.h"
#include "bridge/recorder.h"

#include "media/fec.h"
#include "media/mixer.h"
#include "media/pacer.h"
#include "media/red.h"
#include "media/repair.h"
#include "media/router.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "media/uplink_audio.h"
#include "media/uplink_video.h"

#define MAX_SLOTS 9
#define HIGHEST_LAYER G_MAXINT
#define PLI_INTERVAL_US 500000 /* a source's layer is asked for a key frame at most this often: each one
                                 * costs a thin receiver half a second of its link */
/* ... and for a receiver's own loss (its PLI) at most this often: a key frame is about half a
 * second of its layer's rate, so at this spacing they cost a fifth of it. At PLI_INTERVAL_US a
 * 128 kbit/s point with 5 % loss kept the 60 kbit/s layer it watched at 130-190 kbit/s of key
 * frames, which its link could not carry, so it lost more and asked again. A receiver that
 * switches layer or source is not held by this. */
#define RECEIVER_PLI_INTERVAL_US 2500000
/* Nothing comes from a participant for this long: its link was down (feedback.c heard_from, source.c). */
#define OUTAGE_GAP_US 2000000
/* ... unless it sends little: fewer than SPARSE_PPS packets (RTP and RTCP) a second, as a page
 * holding its quiet room or an endpoint between words does (DTX: comfort noise each 0.4-1.2 s,
 * a report each few seconds). Then two or three of its packets lost in a row on a radio link's
 * fade read as an outage (the link lab, highland-radio: 1-2 a run), and each skipped one of its
 * loss reports, which could stop its mix's RED copies for up to RED_HOLD_US (8-29 % fewer
 * copies than the same page sending its room's noise whole). */
#define SPARSE_OUTAGE_GAP_US 5000000
#define SPARSE_PPS 10
/* Its packets' pace, counted a second at a time, and when the last came (its worker). */
typedef struct {
  uint64_t last_us, window_us;
  unsigned window_n;
  unsigned pace_pps; /* over the last whole window; 0 before the first (the OUTAGE_GAP_US rule) */
} dc_heard;
/* One packet (RTP or RTCP) from it at now: the silence before it when that was an outage for
 * its pace, else 0 (feedback.c). */
uint64_t dc_heard_packet(dc_heard *h, uint64_t now);
/* Packets waiting for one receiver's worker. A worker that falls this far behind (about a
 * second of a receiver's main slot, thumbnail and mix) drops what comes next, as a lossy link
 * would, rather than queue: late media is lost media. At 1024, 300 points overloading a
 * 2-core box held 1.7 MiB of queued packets each (520 MiB) and delivered less audio than at
 * 256 (median 38 of 50 packets a second against 50; tests/load). */
#define MAX_PENDING 256
#define HEAVY_LOSS (256 / 10) /* a report's fraction lost (of 256) that is trouble: over 10 % */
#define TICK_MS 500               /* each participant's housekeeping: rates, reports */
#define NACK_RETRY_US 100000      /* ask a sender again for a packet after this long */
/* Packets are cached for receivers' NACKs, and asked of their senders again, for as long as
 * the leg's round trip says (dc_repair_age_us: 1-3 s). A receiver asks again a round trip
 * after a repair that did not come (a lost NACK or a lost resend: one loss in ten of them at
 * 5 %), and a highland link's round trip is 0.3-0.6 s, more with its queue full: with every
 * packet given up at 1 s the second ask found it gone, and the picture waited for it until the page
 * gave up and asked for a key frame (3-4 s frozen at 128 kbit/s). The 1 MiB cache holds the
 * 3 s of a source at 2.5 Mbit/s. */
#define REPAIR_AGE_US DC_REPAIR_AGE_MAX_US
#define CACHE_MAX_BYTES (1 << 20)
#define REPAIRS_PER_TICK 200      /* a receiver's NACKs answered per TICK_MS, at most */
#define MAIN_OFF_TICKS 10         /* 5 s of not fitting before a main slot turns off */
/* ICE and DTLS normally take well under a second; a browser behind blocked UDP never gets
 * there, and is told so instead of holding a place in everyone's slots. */
#define DC_CONNECT_TIMEOUT_S 20

/* Bandwidth by link profile (dc_tier order): what a receiver is assumed to take before any
 * feedback, the most its estimate may grow to, and what a source is allowed to send (our
 * REMB to it, less its audio, while its uplink loses little: see video_tick). Highland: the
 * lowest simulcast layer plus audio, and no more than 150 kbit/s before feedback, as a
 * 128–256 kbit/s link takes it. */
typedef struct {
  uint64_t initial_bps, ceiling_bps, send_bps;
  uint64_t audio_bps; /* the tier's mix on the wire (media/mixer), kept from the estimate */
  uint64_t red_copy_bps; /* what each RED copy adds to a point's own audio (its frame again) */
  uint64_t mix_copy_bps; /* and to the mix toward it (media/mixer: smaller on the highland tier) */
} dc_link_profile;
extern const dc_link_profile link_profiles[DC_TIER_COUNT];
/* The audio a receiver's link carries now, RED copies included, and a source's uplink; both
 * are kept from the video's share (at 128 kbit/s the highland copy is a fifteenth of it). The
 * policy: the tier's mix and the copies audio.c sends a receiver that takes RED, with the
 * worst audio loss it reported lately (1/256, 0 once it no longer holds) and whether it may
 * take a second copy (red_deep_allowed). */
uint64_t dc_audio_down_policy_bps(dc_tier tier, bool takes_red, unsigned loss_256, bool loss_in_runs,
                                  bool red_always);
uint64_t dc_audio_down_bps(const dc_participant *rcv);
uint64_t dc_audio_up_bps(const dc_participant *src);

/* How hard the mixers' encoders work (audio.c, the mix clock). One clock thread mixes every
 * meeting each 20 ms at real-time priority; past a share of its time it leaves the workers,
 * on a two-core machine, too little of theirs, and past all of it every meeting is heard late
 * and broken up. Over each second: above DC_MIX_EFFORT_BUSY percent of the clock's time the
 * encoders go to reduced effort (media/mixer.h: ~2/3 of the encodes' CPU, ~0.2 dB on the
 * quality number); they come back once DC_MIX_EFFORT_CALM_S seconds in a row stay below
 * DC_MIX_EFFORT_CALM percent (at reduced effort: full effort would be about half again,
 * still under the busy mark, so the choice does not flap). */
#define DC_MIX_EFFORT_BUSY 50
#define DC_MIX_EFFORT_CALM 25
#define DC_MIX_EFFORT_CALM_S 10
/* At this share the clock has no time between ticks: each starts late (the log warns). */
#define DC_MIX_EFFORT_LATE 95
typedef struct {
  uint64_t window_start_us, busy_us; /* the second being counted (0: none yet) */
  unsigned calm_s;                   /* seconds in a row below the calm mark, while reduced */
  bool reduced;
} dc_mix_effort;
/* One tick that took took_us and ended at now_us. Returns the share of the clock's time the
 * second that just closed took (percent), or -1 while the second runs; e->reduced is the
 * effort from now on. */
int dc_mix_effort_tick(dc_mix_effort *e, uint64_t now_us, uint64_t took_us);

#define BWE_FLOOR_BPS 30000
/* Video to a receiver leaves at PACE_FACTOR times its estimate or what comes for it, whichever
 * is more: bursts (key frames) are spread, steady video is not held back. */
#define PACE_FACTOR 1.25
/* Audio redundancy toward a receiver that reported loss in the last RED_HOLD_US (depth:
 * media/mixer dc_mixer_red_depth_policy). */
#define RED_DEPTH_MAX DC_RED_DEPTH_MAX
#define RED_HOLD_US 10000000
/* A highland link that carried this lately (a second of what went to it), losing no more
 * than this of the mix (1/256: 25 %), has room for two copies (~30 kbit/s on the wire): it
 * carries 36 kbit/s or more. Nothing else tells the bridge an audio-only point's rate: 64 and
 * 32 kbit/s look the same until the copies queue, and its round trip is no guard (a report
 * every 5 s, each moved up to 80 ms by the lab's jitter): under two copies it rose 40-50 ms
 * on a 64 kbit/s radio link and about 70 on a 32 kbit/s one, which they filled (the quality
 * number 18.3 dB against 12.9 without copies). */
#define RED_DEEP_CARRIED_BPS 48000
#define RED_DEEP_CARRIED_LOSS 64
bool link_loses_in_runs(const dc_participant *rcv);
bool red_deep_allowed(const dc_participant *rcv, uint64_t now);

typedef struct {
  int section;       /* offer section carrying this slot, -1 when unused */
  uint32_t ssrc;     /* ours */
  uint8_t pt;        /* the receiver's payload type for the codec */
  dc_rtp_ext_ids ext; /* the receiver's extension ids */
  /* routing: written on the main thread under the room's writer lock */
  int64_t source;    /* participant feeding the slot, 0 = none */
  int64_t left_source; /* the one before, and when the slot left it: it may play it still */
  int64_t left_at_us;
  int want_layer;    /* a layer index; HIGHEST_LAYER: the highest arriving (not chosen yet) */
  bool off;          /* the receiver's bandwidth does not fit this slot now */
  int off_votes;     /* layer choices in a row that found it does not fit */
  dc_upgrade_guard guard; /* the main slot's moves up a layer (main thread) */
  gint probes_failed_seen; /* the receiver's probes_failed when last looked at (main thread) */
  int rtx_pt;        /* the receiver's RTX payload type, -1 without RTX */
  uint32_t rtx_ssrc;
  uint16_t rtx_seq;  /* the receiver's worker only */
  /* audio continuity: the receiver's worker only */
  bool started;
  uint16_t last_seq;
  uint32_t last_ts;
  uint64_t ts_at_us; /* when the stream's time was last_ts (a frame held back moves it too) */
  dc_dtx_gate dtx;   /* the mix's DTX frames held back (media/mixer.h) */
  uint32_t sent_packets, sent_octets; /* for our sender reports */
  /* audio redundancy (RFC 2198) toward the receiver: its RED payload type, -1 without (the
   * frames it copies are the participant's sent_mix: a video slot has none) */
  int red_pt;
  /* video: continuity and key-frame switching (media/router), the receiver's worker only;
   * what it plays now is published for the sources' workers (atomics) */
  dc_slot core;
  dc_leg_loss leg; /* the receiver's worker: its reports, less the sources' own losses */
  gint keep_tid;    /* main thread → worker: the highest VP8 temporal layer sent; -1 = all */
  gpointer playing_source; /* participant id, as a pointer-sized atomic */
  gint playing_layer;
} slot;

typedef struct {
  unsigned n, next; /* frames kept, and where the next goes (a ring: the newest at next - 1) */
  struct {
    uint32_t ts;
    uint16_t len;
    uint8_t data[DC_MIX_MAX_PACKET];
  } frames[DC_RED_REACH_MAX];
} red_history;

/* A frame's first or last packet (a marker bit): its sequence number and picture ID; the last
 * few of each, as they came (source.c, skip_between_frames). */
typedef struct {
  uint16_t seq, picture_id;
  bool known;
} frame_mark;
#define FRAME_MARKS 4
typedef struct {
  frame_mark start[FRAME_MARKS], end[FRAME_MARKS];
  unsigned next_start, next_end;
} frame_marks;

struct dc_participant {
  gint refs;
  int64_t id;
  char *name;
  dc_room *room;
  dc_transport *transport;
  dc_worker *worker;
  dc_participant_events ev;
  gpointer user;
  bool left;   /* main thread */
  bool connected; /* main thread: its media is up; only then does it fill others' slots */
  GSource *connect_timer; /* main thread: gives up on a transport that never connects */
  int64_t last_spoke_us; /* main thread: when the mixer last named it the dominant speaker */
  bool closed; /* worker thread: the transport is gone */
  gint muted;
  gint observer; /* set once after joining: nothing it sends goes anywhere */
  gint pending;  /* deliveries queued for this receiver's worker */
  dc_tier tier;
  gint audio_wait_ms; /* its jitter buffer's wait (0: not said), for the copies' reach: the join's,
                       * then an audio_wait message's (main thread; atomic, read by the mix clock) */
  int64_t told[MAX_SLOTS]; /* main thread: the slot map last sent to it */
  bool told_once;
  int mix_slot;  /* in the room's mixer; -1 until the offer is accepted */
  gint dropped;  /* deliveries refused because the queue was full */
  dc_sdp *offer;
  dc_sdp_negotiation *neg;
  /* as a source (its own worker) */
  int audio_pt, video_pt;
  int audio_red_pt;            /* RED of Opus it may send us, -1 without */
  bool audio_red_asked;        /* and the answer asked it to (a highland point) */
  dc_rtp_ext_ids audio_ext, video_ext;
  int n_layers;
  char rids[DC_SDP_MAX_LAYERS][DC_RTP_ID_MAX + 1];
  uint32_t layer_ssrc[DC_SDP_MAX_LAYERS], rtx_ssrc[DC_SDP_MAX_LAYERS];
  int64_t layer_seen_us[DC_SDP_MAX_LAYERS]; /* when each layer last arrived */
  dc_keyframe_gate keyframe_gate[DC_SDP_MAX_LAYERS]; /* per layer: key frames are asked per layer */
  uint64_t given_up_asked[DC_SDP_MAX_LAYERS]; /* layer_rx's given_up when a key frame was last asked for it */
  int rtx_pt;                  /* the source's RTX payload type, -1 without */
  /* its camera's protection (a highland point), each -1 without: RED, ULPFEC in it (RFC
   * 5109), RTX of what went in RED; the FEC packets held until of no more use */
  int video_red_pt, ulpfec_pt, red_rtx_pt;
  dc_ulpfec_store *fec;
  frame_marks frame_marks[DC_SDP_MAX_LAYERS]; /* each layer's, for what lies between frames */
  bool nack_upstream;          /* the source takes our NACKs */
  bool remb_upstream;          /* and our REMB */
  unsigned video_fb;           /* DC_FB_* it negotiated for its camera */
  gint camera_seen_pub;        /* its camera's first packet came: the recording prefers it (atomic) */
  /* dc_seat: the others' slots its camera goes to or may go to (room_seat_audiences), so
   * that each packet visits those rather than every slot of the room; written on the main
   * thread under the room's writer lock, read by its worker under the reader lock */
  GArray *audience;
  uint8_t fir_seq;             /* RFC 5104 §4.3.1.1: one more per new request */
  /* what it sends us, for our reports and NACKs: n_layers of them, made with its offer (3 KiB
   * each, and a participant had room for 8 inline: 25 KiB, most of it for layers never sent) */
  dc_rx_stream *layer_rx;
  dc_rx_stream audio_rx;
  /* a point that sends no camera: the rate its audio encoder should keep to, from the queue
   * its packets show (its worker; the first step 0 for the hall tier: not watched) */
  dc_uplink_audio uplink;
  dc_packet_cache *cache;      /* its recent video, for receivers' NACKs */
  uint64_t layer_bytes[DC_SDP_MAX_LAYERS]; /* since the last tick */
  uint64_t layer_padding_bytes;            /* its padding, in all (its worker; for the record) */
  gint layer_kbps[DC_SDP_MAX_LAYERS];      /* published each tick, for the layer choice */
  int64_t last_tick_us;
  unsigned ticks;
  dc_worker_tick *tick;        /* the worker's housekeeping, every TICK_MS (the worker's alone) */
  uint32_t rtcp_ssrc;          /* ours, as the sender of reports and feedback to it */
  /* as a receiver */
  slot audio;
  slot video[MAX_SLOTS];
  /* the mix frames sent last, for RED copies in the next packets (the receiver's worker).
   * Here, not in each slot: nine video slots carried 23 KiB of it unused, a participant's
   * 59 KiB was 36 without. */
  red_history sent_mix;
  int n_video;
  dc_bwe bwe;          /* its worker only */
  dc_bwe up_bwe;       /* as a source: what its uplink carries, from our reports' loss (its worker) */
  dc_uplink_video up_queue; /* and from the queue its camera's packets show (its worker) */
  uint64_t came_bytes; /* from it since our last reports (its worker) */
  uint64_t reported_us; /* when they went */
  dc_pacer *pacer;     /* its video on the way out, made on first use (its worker) */
  bool pace_pending;   /* a wake-up for the pacer is scheduled (its worker) */
  uint64_t paced_bytes; /* pushed into the pacer since the last tick (its worker) */
  uint64_t paced_bps;  /* smoothed */
  uint64_t sent_bytes; /* to it, since the last tick (its worker) */
  uint64_t sent_bps;   /* smoothed over about a second */
  uint64_t sent_total; /* to it, in all, as of the last tick (its worker) */
  unsigned last_loss;  /* in its last report on our streams, 1/256 */
  dc_loss_reports audio_losses; /* what it reported of its mix lately (its worker) */
  /* the worst of them in the last RED_HOLD_US, 0 once none there showed loss, 1/256:
   * published for the mix clock's FEC */
  gint audio_loss_pub;
  /* a second copy for the highland tier (red_depth): its own uplink loses in runs, and its
   * link carried RED_DEEP_CARRIED_BPS lately */
  gint deep_red_pub;  /* red_deep_allowed at its last report: for dc_audio_down_bps */
  uint64_t carried_us;       /* when it last did, with its mix's loss at most RED_DEEP_CARRIED_LOSS (its worker) */
  unsigned red_depth_sent;   /* copies in its last mix packet (its worker) */
  gint estimate_kbps;  /* published for the layer choice */
  /* probing before the main slot moves up (media/router dc_probe) */
  gint probe_target_kbps; /* main thread → worker: the rate to probe for, 0: none */
  gint probes_failed;     /* worker → main thread: a failed probe holds the slot */
  dc_probe probe;         /* its worker */
  bool probe_timer;       /* the padding timer runs (its worker) */
  uint64_t probe_hold_until; /* no new probe before (its worker) */
  uint64_t sending_before_probe; /* what went to it when the last probe started (its worker) */
  dc_heard heard;          /* when its packets (RTP or RTCP) came, at what pace (its worker) */
  bool skip_loss_report;   /* its next report covers an outage (its worker) */
  uint64_t bwe_quiet_since;  /* its reports show no heavy loss or congestion since (its worker) */
  unsigned signals_seen;     /* bwe.congestion_signals at the last report (its worker) */
  int repairs;         /* answered this tick (its worker) */
  int repairs_sent;    /* in all (its worker) */
  dc_repair_budget repair_budget; /* what its repairs may still take of its link (its worker) */
  uint64_t probe_bytes; /* padding sent to it for probes, in all (its worker) */
  gint repairs_refused;
  gint repairs_missed; /* asked for when its source's cache did not hold them: aged out, or lost on
                        * the source's own uplink and never come (the source's worker) */
  /* its link for the operators' live view (metrics.h), published by its worker each second */
  uint64_t recv_bytes;   /* from it, since the last second (its worker) */
  gint rtt_ms_pub;       /* -1 until its transport's check or a report on our sender report says */
  gint loss_down_pub, loss_up_pub, audio_loss_now_pub; /* 1/256; -1 unknown */
  gint kbps_down_pub, kbps_up_pub;
  int64_t lost_up_seen;   /* cumulative losses in our last reports on its streams (its worker) */
  uint64_t audio_skipped_reported; /* its audio's numbers skipped beside silence at our last report (its worker) */
  dc_uplink_loss uplink_loss;      /* what loss_up_pub shows: about its last eight report intervals (its worker) */
  int64_t lost_down_seen; /* in its last report on our mix (its worker) */
};

/* Lock order: room lock, then mix_lock. The mixer is not thread-safe: sources' workers
 * push into it and the clock thread ticks it, each under mix_lock, briefly. */
struct dc_room {
  dc_bridge *bridge;
  int64_t meeting;
  /* The bridge's table holds one reference while the room has members (or a recording);
   * each participant one until it is freed, since its worker may still reach the room's
   * mixer and locks after it left. */
  gint refs;
  GRWLock lock;
  GPtrArray *members; /* dc_participant*, in join order; main thread writes */
  unsigned fec_ticks;  /* the mix clock's: ticks since the tiers' expected loss was set */
  GMutex mix_lock;
  dc_mixer *mixer;
  int64_t speaker; /* clock thread: the dominant speaker last reported */
  int64_t pinned;  /* main thread: the host's pin, 0 for none */
  /* The recording (bridge/recorder.h), started and stopped on the main thread. The mix clock
   * pushes the full mix, the sources' workers the main picture, each under rec_lock (taken
   * after the room lock, before mix_lock, never with mix_lock held). */
  GMutex rec_lock;
  dc_recorder *rec;
  dc_slot rec_video;   /* the main picture as one continuous stream (media/router) */
  int rec_mix_slot;    /* under mix_lock: a muted hall-tier place in the mixer, whose packets
                        * are the full mix; -1 when not recording */
  gpointer rec_source; /* main thread → workers: whose picture is recorded (an id, atomic) */
  gint rec_source_camera; /* and whether its camera has sent anything (atomic) */
  gpointer rec_playing; /* the source rec_video plays now (an id, atomic: a cheap filter) */
  gint rec_on;          /* rec != NULL, for the workers' filter without the lock */
};


struct dc_bridge {
  dc_workers *workers;
  dc_dtls_identity *identity;
  dc_transport_config transport;
  unsigned max_room, talkers, big_room;
  bool no_red; /* --no-red: no audio redundancy either way */
  bool no_video_fec; /* --no-video-fec: highland cameras not asked for ULPFEC */
  bool red_always; /* --red-always: one copy to every receiver that takes RED, reports or not */
  bool no_silence_filter; /* --no-silence-filter: the kernel drops no silent audio */
  bool no_realtime_clock; /* --no-realtime-clock: the mix clock at the ordinary priority */
  bool mix_reduced_effort; /* the clock thread's (dc_mix_effort), read by it in each room's tick */
  gint mix_clock_pct, mix_reduced_pub; /* the same and the last second's share, for other threads (atomic) */
  unsigned connect_timeout_s;
  dc_speaker_fn on_speaker;
  gpointer speaker_user;
  dc_recording_fn on_recording;
  gpointer recording_user;
  GHashTable *rooms;
  GMainContext *main;
  GMutex rooms_lock; /* the clock thread walks room_list */
  GPtrArray *room_list;
  GThread *clock;
  gint stop;      /* the mix clock ends */
  bool stopping;  /* main thread: dc_bridge_stop was called; leaves tell nobody */
  GSource *layer_timer; /* main thread: the layer choice */
};


/* References: a participant lives while the room, a queued delivery or a timer holds it. */
dc_participant *room_ref(dc_participant *p);
void room_unref(gpointer p);
/* The member with that id, or NULL; the caller holds the room's lock (either kind). */
dc_participant *room_find(dc_room *r, int64_t id);
/* From a worker or the clock thread: fn(data) on the main thread, as an idle source of the
 * main context at default priority; destroy(data) after. Never g_main_context_invoke: once the
 * main loop has stopped it runs the callback at once on the calling thread, beside the main
 * thread's leaves (SIGTERM once deadlocked the bridge so). A source that never runs, posted
 * after the last iteration at exit, keeps its data (and any reference in it) to the end. */
void room_post_main(dc_bridge *b, GSourceFunc fn, gpointer data, GDestroyNotify destroy);

/* A hand-off to a receiver's worker (dc_worker_post_ahead): video deliveries and mix
 * deliveries are bounded together by one reserve/release pair a delivery (MAX_PENDING).
 * room_post reserves, posts and, when the worker refuses, releases again: false then, and
 * counted. ahead (or NULL) warms the delivery before its turn (worker.h); both callers' use
 * room_prefetch_delivery. */
bool room_reserve(dc_participant *rcv);
void room_release(dc_participant *rcv); /* the delivery ran: pending back, its reference dropped */
bool room_post(dc_participant *rcv, void (*fn)(void *msg), void (*ahead)(const void *msg, unsigned stage),
               const void *msg, size_t len);
/* Warming ahead for a delivery to rcv on slot s (worker.h): stage 0 the receiver's lines a
 * delivery reads, stages 1-3 its transport's send path. rcv's worker, with a reference held. */
void room_prefetch_delivery(const dc_participant *rcv, const slot *s, unsigned stage);

/* One copy of a packet for every receiver on another worker it goes to: each delivery holds
 * a reference, the last frees it. (A copy a receiver, as before, was an allocation and 2 KiB
 * for each of them, and a worker behind with 256 of them queued for each of 300 receivers
 * held 150 MiB.) */
typedef struct {
  gint refs;
  uint16_t len;
  uint16_t copy_len; /* a mix's: its redundant copy follows the packet in data (mixer.h) */
  uint8_t data[];
} shared_packet;
shared_packet *shared_packet_new(const uint8_t *data, size_t len);
shared_packet *shared_packet_new_with_copy(const uint8_t *data, size_t len, const uint8_t *copy, size_t copy_len);
shared_packet *shared_packet_ref(shared_packet *p);
void shared_packet_unref(shared_packet *p);

/* slots.c, main thread: recomputes every slot and tells each participant who fills its
 * slots now; and the layer choice for every room's receivers (the bridge's timer, data: the
 * bridge), telling those whose slots turned off or on. */
void room_reroute_and_tell(dc_room *r);
gboolean room_choose_layers_all(gpointer bridge);

/* A slot a source's camera goes to: the receiver and which of its video slots. */
typedef struct {
  dc_participant *rcv;
  int slot;
} dc_seat;
/* A slot stays in its former source's audience this long after it moved on: a delivery posted
 * to the receiver's worker before the move may switch it there after (video.c, deliver). */
#define AUDIENCE_GRACE_US (2 * G_USEC_PER_SEC)
/* slots.c, main thread, the room's writer lock held: each member's audience anew, from the
 * slots routed to it, playing it, or left within AUDIENCE_GRACE_US. After every change of a
 * slot's source or of the members, and each layer choice (which drops the left ones). */
void room_seat_audiences(dc_room *r);

/* video.c: a source's worker is asked for a key frame on a layer (throttled there); a
 * participant's housekeeping every TICK_MS on its worker. */
/* layer -1: every layer; interval_us: none if that layer was asked for more recently */
void room_request_keyframe(dc_participant *src, int layer, int64_t interval_us);
/* Any thread: tells the participant (on the main thread) the rate its audio encoder should
 * keep to, bits per second (dc_uplink_audio), and logs why. */
void room_tell_audio_rate(dc_participant *p, unsigned bps);
/* source.c: the transport's rtp callback, every RTP packet from the participant (its worker). */
void source_on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap);
/* A hint before source_on_rtp (transport.h's prefetch): the source's lines it reads first. */
void source_prefetch(gpointer user);
/* audio.c: a packet of the point's audio, parsed, from source_on_rtp. */
void audio_in(dc_participant *src, const dc_rtp *pkt, size_t len, uint64_t now);
void feedback_on_rtcp(gpointer user, uint8_t *buf, size_t len);
void feedback_on_rtt(gpointer user, unsigned ms);            /* its transport's own check */
void feedback_heard_from(dc_participant *p, uint64_t now); /* each packet from it */
void feedback_report(dc_participant *p, uint64_t now);     /* once a second, from video_tick */
/* share: where the packet's shared copy is kept for the other receivers of the same packet
 * (*share NULL at first; the caller unrefs it after the last receiver). */
void video_forward(dc_participant *rcv, dc_participant *src, slot *s, int layer, int want_layer, bool routed,
                   bool repair, const uint8_t *buf, size_t len, shared_packet **share);
/* A packet of src's layer that carries no picture, to a slot as padding under its number. */
void video_forward_filler(dc_participant *rcv, dc_participant *src, slot *s, int layer, const uint8_t *buf,
                          size_t len, shared_packet **share);
/* Asks the receiver's worker to stop a slot that still plays src (it was turned off). */
void video_stop_slot(dc_participant *rcv, dc_participant *src, slot *s);
void video_probe_step(dc_participant *p, uint64_t now);
void pace_consume(dc_participant *rcv, size_t len, uint64_t now);
void pace_after_audio(dc_participant *rcv, uint64_t period_us, uint64_t now);
gboolean video_tick(gpointer participant);

/* source.c: a source's video packet for the recording, if it is the recorded picture. */
void video_record(dc_participant *src, int layer, int highest, const uint8_t *buf, size_t len, uint64_t now);

/* audio.c: the mix clock thread's body (data: the dc_bridge). */
gpointer mix_clock_run(gpointer bridge);

#endif
