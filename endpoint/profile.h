/* profile.h — the endpoint's link profiles and the small policies around them.
 *
 * A profile fixes what the endpoint sends (Opus bitrate, frame length, in-band FEC, DTX;
 * VP8 size, rate and bitrate) and how many video slots it asks for. The numbers match the
 * bridge's mixer tiers (media/mixer.c) so both directions of a link use about the same
 * share of it. Also here, because they are policy and tested alone: the join link's parts,
 * the slot grid's layout, the reconnect backoff and certificate pins. No GStreamer here.
 */
#ifndef DC_ENDPOINT_PROFILE_H
#define DC_ENDPOINT_PROFILE_H

#include <gio/gio.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  const char *name;           /* "hall", "standard", "highland": the bridge's tier too */
  int audio_bps;              /* Opus target bitrate */
  int audio_frame_ms;         /* Opus frame length: 20, 40 or 60 */
  bool audio_fec, audio_dtx;  /* in-band FEC (RFC 6716 LBRR), discontinuous transmission */
  int audio_loss_percent;     /* expected loss, tells the encoder how much FEC to spend */
  int video_width, video_height, video_fps;
  int video_bps;              /* VP8 target bitrate */
  int slots;                  /* video slots asked for: main + thumbnails */
  int layers;                 /* simulcast layers sent (SSRC simulcast), 1 for none */
  int video_fec_percent;      /* the camera's parity (ULPFEC) while its uplink loses, 0: none */
  /* how long received audio waits for a late or repaired packet: audio_wait_runs_ms from the
   * start, and for good once the mix's packets are lost in runs; once they are seen lost alone
   * or not at all (dc_loss_runs), what their lateness needs up to audio_wait_ms
   * (dc_profile_lone_wait_ms) */
  int audio_wait_ms, audio_wait_runs_ms;
} dc_profile;

typedef struct {
  int width, height, fps, bps;
} dc_layer;

#define DC_MAX_LAYERS 3

/* Simulcast layer i of a profile, lowest first; the top layer is the profile's own size. The
 * lowest fits a highland receiver (320x180, 10 fps, 80 kbit/s), so the district hall reaches
 * every commune; each layer above doubles the size. */
dc_layer dc_profile_layer(const dc_profile *p, int i);

/* How the mix's packets are lost on their way in, to tell a radio link's fades from random
 * loss: gaps in the numbers of the packets that came (the bridge's copies not counted), at
 * most DC_LOSS_RUN_MAX packets each (longer is an outage), halved past DC_LOSS_RUNS_KEPT so
 * the recent ones count, none in the stream's first DC_LOSS_RUNS_SETTLE_US (the join's own
 * traffic overflows a thin link's queue then). The same reading as the bridge's of a point's
 * uplink, with its thresholds (media/repair.h dc_rx_stream_loses_in_runs: random loss of
 * 10 % averages 1.1 packets a gap, the link lab's fades about 3); the compact build, which
 * this is for, has no media/. */
#define DC_LOSS_RUN_MAX 16
#define DC_LOSS_RUNS_KEPT 32
#define DC_LOSS_RUNS_MIN 6
#define DC_LOSS_RUNS_SETTLE_US 10000000
/* When the loss is taken for lone (or none): counted DC_LOSS_RUNS_JUDGE_US with no gap at all
 * or with DC_LOSS_RUNS_LONE_MIN gaps or more averaging under 1.3 packets, else counted twice
 * that without finding runs. Simulated (60 ms packets, 1000 starts each, seeded:
 * /endpoint/loss-runs-simulated): a radio link losing 10 % in fades of 3 on average
 * (Gilbert-Elliott) is taken for lone in 0.1 % of starts, where 15 s of counting without runs
 * alone took 12.5 % (its runs are found 11 s into the count on average); fades of 2, 2.3 %;
 * 5 % in fades of 3, 14 %; random loss of 0-15 % 25-27 s after the audio began on average,
 * in 94-100 % of starts (the rest found runs). */
#define DC_LOSS_RUNS_JUDGE_US 15000000
#define DC_LOSS_RUNS_LONE_MIN 12
typedef struct {
  bool started;
  uint16_t last_seq;
  int64_t count_from_us;
  unsigned gaps, gap_packets;
} dc_loss_runs;
/* A packet of the stream (not a copy) numbered seq came at now_us. */
void dc_loss_runs_packet(dc_loss_runs *r, uint16_t seq, int64_t now_us);
/* At least DC_LOSS_RUNS_MIN gaps, averaging 1.6 packets or more. */
bool dc_loss_runs_found(const dc_loss_runs *r);
/* By now_us the loss is taken for lone or none (DC_LOSS_RUNS_JUDGE_US). */
bool dc_loss_runs_seen_lone(const dc_loss_runs *r, int64_t now_us);

/* How much later than the earliest the mix's packets come, for the wait on a link whose loss
 * is lone: a copy one frame back comes in the next packet, a frame later than its own and as
 * late again as that packet is, so the jitter buffer must wait the frame, that lateness and
 * DC_DELAY_SPREAD_MARGIN_MS (the playout's reference is an estimate, and the copy crosses
 * rtpreddec). Each packet's delay is its arrival less its RTP time (any offset: only
 * differences count); the spread is the DC_DELAY_SPREAD_PERCENTILE-th percentile of the last
 * DC_DELAY_SPREAD_KEPT packets' delays less their least (a jitter buffer plays each packet
 * that far behind the earliest-coming ones), known once DC_DELAY_SPREAD_MIN have come after
 * the stream's first DC_LOSS_RUNS_SETTLE_US. Copies are not packets here: they come late by
 * design. RFC 3550's interarrival jitter (A.8) is a smoothed mean of successive differences,
 * about a third of the spread a uniform jitter gives, and follows no tail. */
#define DC_DELAY_SPREAD_KEPT 256
#define DC_DELAY_SPREAD_MIN 64
#define DC_DELAY_SPREAD_PERCENTILE 98
#define DC_DELAY_SPREAD_MARGIN_MS 20
/* A packet DC_DELAY_SPREAD_JUMP_US earlier or later than the one before it is a new stream (its
 * RTP time or SSRC began again: a link's queue grows and drains packet by packet), and the
 * packets kept are forgotten: otherwise the old ones would read as seconds late for the next
 * DC_DELAY_SPREAD_KEPT and raise the wait to the profile's. */
#define DC_DELAY_SPREAD_JUMP_US (2 * G_USEC_PER_SEC)
typedef struct {
  bool started;
  uint32_t last_ts;
  int64_t ts;               /* last_ts unwrapped */
  int64_t count_from_us;
  int64_t delay_us[DC_DELAY_SPREAD_KEPT];
  unsigned n, next;
} dc_delay_spread;
/* A packet of the stream (not a copy) with RTP time rtp_ts at clock_rate Hz came at now_us. */
void dc_delay_spread_packet(dc_delay_spread *s, uint32_t rtp_ts, int clock_rate, int64_t now_us);
/* The spread in ms (rounded up), or -1 while not known. */
int dc_delay_spread_ms(const dc_delay_spread *s);
/* The wait for a link whose loss is lone or absent: the frame, the spread and the margin,
 * rounded up to 10 ms, and at most the profile's audio_wait_ms, which is also the wait while
 * the spread is not known. Not more: on the link lab's audio-32k (32 kbit/s, ±20 ms, 10 %
 * lost at random) the mix's packets come 80-98 ms late at the 98th percentile and 60-75 at
 * the 90th, the link's queue besides its jitter, and waiting so (170-180 ms) played 98.3-98.9 %
 * of frames unconcealed where 140 played 97.9-99.3: a copy come too late costs a frame that
 * was lost already, one in ten here, and waiting for the last of them costs every frame. */
int dc_profile_lone_wait_ms(const dc_profile *p, int spread_ms);
/* Once waiting wait_ms for lone loss, the mix's packets may come later than they did (a busier
 * link): the wait they now ask for when that is DC_WAIT_RAISE_MS more or above, else 0. */
#define DC_WAIT_RAISE_MS 20
int dc_profile_lone_wait_raised(const dc_profile *p, int wait_ms, int spread_ms);
/* And sooner again (the busy spell over): the wait they ask for when that is DC_WAIT_LOWER_MS
 * less or below, else 0; more than the raise's step, so one change is not undone by the
 * next. */
#define DC_WAIT_LOWER_MS 30
int dc_profile_lone_wait_lowered(const dc_profile *p, int wait_ms, int spread_ms);

/* The lone wait as it follows the packets' lateness, once a played buffer: looked at every
 * DC_WAIT_CHECK_US, raised at once (late packets are lost), lowered once they have asked less
 * for DC_WAIT_LOWER_HOLD_US, in a pause of the sound (a skip of silence) or
 * DC_WAIT_PAUSE_AWAITED_US later without one, as the first lowering from the longer wait.
 * Each change is a skip or a gap: a wait that followed the link's load down as quickly as up
 * would make one every few seconds. */
#define DC_WAIT_CHECK_US G_USEC_PER_SEC
#define DC_WAIT_LOWER_HOLD_US (30 * G_USEC_PER_SEC)
#define DC_WAIT_PAUSE_AWAITED_US (10 * G_USEC_PER_SEC)
typedef struct {
  int64_t next_check_us;
  bool asks_less;         /* since asked_less_from_us */
  int64_t asked_less_from_us;
  bool lower_due;         /* held long enough: lowered in the next pause */
  bool unheld;            /* dc_lone_wait_judged kept the wait: no hold until it changes */
} dc_lone_wait;
/* The loss was just judged lone, and the wait is now wait_ms, before_ms before. A judgement
 * that kept the wait (a stall in the lateness's window as it was judged: the packets asked the
 * profile's wait) made no skip the hold would space out, and the stall says no more about the
 * link than the window that judged it: so until the wait first changes it is lowered as the
 * judgement would have lowered it, once the packets ask less, in a pause or
 * DC_WAIT_PAUSE_AWAITED_US later, not after DC_WAIT_LOWER_HOLD_US. (Held, one stall at the
 * judgement kept the hall's 100 ms for 40 s more.) */
void dc_lone_wait_judged(dc_lone_wait *w, int wait_ms, int before_ms);
/* Waiting wait_ms, the packets' lateness in s, now_us, and whether the sound is in a pause:
 * the wait from now on, or 0 to keep it. */
int dc_lone_wait_follow(dc_lone_wait *w, const dc_profile *p, int wait_ms, const dc_delay_spread *s, int64_t now_us,
                        bool in_a_pause);
/* Whether a pause of the sound is looked for (the caller may measure the sound only then). */
bool dc_lone_wait_lowering(const dc_lone_wait *w);

/* NULL when name is none of the three. */
const dc_profile *dc_profile_find(const char *name);
/* The profile list for messages: "hall, standard or highland". */
const char *dc_profile_names(void);

/* ---- the join link: https://BRIDGE[:PORT]/join#meeting=N[&profile=P]&token=T (or in the query) ---- */

typedef struct {
  char *ws_url;   /* wss://BRIDGE:PORT/ws (ws:// for an http:// link) */
  char *host;     /* for messages */
  int64_t meeting;
  char *token;
  const dc_profile *profile; /* the point's link profile, when the link names a known one */
} dc_join_link;

/* False with *error set (in words a clerk can act on) when the link is not one. */
bool dc_join_link_parse(const char *link, dc_join_link *out, GError **error);
void dc_join_link_clear(dc_join_link *l);

/* ---- the slot grid ---- */

typedef struct {
  int x, y, width, height;
} dc_tile;

/* Places n video slots (1..9) in a frame of width × height: the main slot (0) large on the
 * left (the whole frame when alone), thumbnails stacked on the right in a column, each
 * 16:9 where the space allows. Tiles never overlap and stay inside the frame. */
void dc_grid_layout(int n, int width, int height, dc_tile *tiles);

/* ---- reconnecting ---- */

/* Delay before reconnect attempt number `attempt` (0 = the first after a loss): 0.5 s,
 * doubling, at most max_ms, with ±20 % jitter from `jitter` (0..1) so that thirty boxes
 * that lost the same bridge do not all come back in the same millisecond. */
unsigned dc_backoff_ms(unsigned attempt, unsigned max_ms, double jitter);

/* ---- trusting the bridge ---- */

/* "AB:CD:…", the SHA-256 of a certificate's DER (g_free it). */
char *dc_certificate_fingerprint(GTlsCertificate *cert);
/* True when pin names fp: case and colons do not matter. */
bool dc_fingerprint_matches(const char *pin, const char *fp);

#endif
