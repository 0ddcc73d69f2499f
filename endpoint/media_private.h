/* media_private.h — what the endpoint's media files share: the pipeline's state as data and
 * the calls between them. Nothing outside them includes it (media.h is the interface).
 *   media.c        building the pipeline, webrtcbin's signals, the bus, media.h's calls
 *   media_receive.c the received streams: the mix to the playback, the video slots to tiles
 *   media_audio.c  the mix's playback: its jitter buffer's wait following the mix's loss,
 *                  what it played and concealed, the recording's place on the wall clock,
 *                  RED's copies played, each sink's latency; the microphone's RED offered
 *   media_stats.c  webrtcbin's stats as the JSON line, and the uplink's redundancy and rates
 *                  that follow the bridge's reports
 *   media_ice.c    webrtcbin's libnice agent tuned, and its TURN relays given back
 * The owner's thread is the one that made the media (its main context); webrtcbin and the
 * streaming threads reach it through media_post. */
#ifndef DC_ENDPOINT_MEDIA_PRIVATE_H
#define DC_ENDPOINT_MEDIA_PRIVATE_H

#include "endpoint/media.h"

#define GST_USE_UNSTABLE_API /* webrtcbin's library says so of itself in 1.22 */
#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <stdbool.h>

#define MAX_SLOTS 9
#define VP8_CAPS "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
/* Nothing goes into webrtcbin before ICE is up: in GStreamer 1.22 a buffer that reaches the
 * transport before it is ready blocks its streaming thread while holding the RTP session's
 * lock, and ICE gathering (which needs that lock) never starts: an endpoint whose answer
 * came late (a highland link's 400 ms queue) never connected and hung on SIGTERM. Caps go
 * through (webrtcbin makes no offer before it has them); the first video frames through the
 * gate are not a key frame, and the bridge asks for one (PLI) as for any new source. */
#define GATE(name) "valve name=" name " drop=true drop-mode=forward-sticky-events"
#define OPUS_CAPS "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"
#define PLAYBACK_CAPS "audio/x-raw,rate=48000,channels=1"
#define MIX_FEC_MIN_BPS 18000


struct dc_endpoint_media {
  dc_media_config cfg;
  dc_media_events ev;
  GMainContext *ctx;
  GstElement *pipe, *webrtc, *mute, *grid, *status_overlay;
  GstElement *labels[MAX_SLOTS];
  GMutex label_lock; /* labels and their texts: set here, tiles made on streaming threads */
  GMutex ssrc_lock;  /* ssrc_kind's writes, and its reads off this thread */
  char *label_text[MAX_SLOTS];
  int n_slots;
  gint frames[MAX_SLOTS]; /* atomic: counted on streaming threads */
  int tile_w[MAX_SLOTS], tile_h[MAX_SLOTS], tile_x[MAX_SLOTS], tile_y[MAX_SLOTS];
  guint bus_watch, stats_timer;
  bool closing, connected;
  unsigned tcp_candidates; /* of ours, sent to the bridge (the owner's thread): ICE-TCP, RFC 6544 */
  char *status;
  /* the previous stats, for rates */
  gint64 last_stats_us;
  guint64 last_bytes[4]; /* audio up, video up, audio down, video down */
  long last_frames[MAX_SLOTS];
  /* SSRC -> GstWebRTCKind, from the offer and the answer: webrtcbin 1.22's stats name every
   * bundled stream "video", so the SDP says which is which */
  GHashTable *ssrc_kind;
  /* our audio's RED encoder inside webrtcbin (found once it exists) and what it sends */
  GstElement *red_enc;
  int audio_red_pt; /* from our offer; -1: none */
  unsigned red_distance;
  gint64 audio_loss_us;
  /* the camera's parity encoder inside webrtcbin (found once it exists) and what it spends */
  GstElement *video_fec_enc;
  int video_ulpfec_pt; /* in the camera's section of the last SDP; -1: none (not answered) */
  unsigned video_fec_percent;
  gint64 video_loss_us;
  guint64 last_video_nacks, last_video_sent;
  /* the round trip last measured: the bridge's latest report block may answer no sender
   * report of ours (LSR 0: nothing measured), which must not make it unknown again */
  double rtt_s;
  bool have_rtt;
  guint32 layer_ssrc[DC_MAX_LAYERS]; /* simulcast layers' SSRCs, lowest first */
  GstElement *layer_enc[DC_MAX_LAYERS]; /* and their encoders */
  int n_layers;
  bool feedback_routed;
  /* what the mix's decoder played and what it concealed for packets that never came, for the
   * stats line; and where the recording sits on the wall clock (a WAV sink only) */
  GMutex play_lock;
  guint64 audio_played_ns;      /* the decoders' output, concealment included */
  guint64 audio_concealed_ns;   /* what the jitter buffer declared lost and no copy restored */
  guint64 recorded_bytes;       /* into the WAV so far (48 kHz mono S16) */
  gint64 recording_origin_us;   /* wall clock of the WAV's sample 0 as the mix now plays; 0: not yet */
  GstElement *recorder;         /* the WAV's sink: synchronised, so given a loudspeaker's latency */
  gint64 playback_latency_ns;   /* what the mix's playback last found it must wait (atomic) */
  /* the mix's jitter buffer (ssrc_lock), how long it waits now (atomic, the owner's to set),
   * what the mix's loss has shown so far (atomic, wait_state) and the wait chosen for lone
   * loss once it did (atomic, set before wait_state says so), how its packets are lost and
   * how late they come on their way in, and how long the sound has been quiet (play_lock);
   * the lone wait following their lateness (the playback's streaming thread's); what the
   * owner last told of the loss (its thread's: a wait_state) */
  GstElement *audio_jb;
  gint audio_wait_ms;
  gint wait_state;
  gint lone_wait_ms;
  dc_loss_runs mix_runs;
  dc_delay_spread mix_spread;
  guint64 quiet_ns;
  dc_lone_wait lone_wait;
  int told_state;
};

/* The mix's loss, as its packets show it: the audio waits the profile's longer wait until it
 * is known, what the packets' lateness asks (up to the profile's shorter wait) once it is
 * seen lone or absent, more if they come later since and less again once they have come
 * sooner for a while, the longer for good once in runs. Each change is a short gap or skip in
 * the sound: up by DC_WAIT_RAISE_MS or more at once, down in a pause of the sound or, without
 * one, DC_WAIT_PAUSE_AWAITED_US later (profile.h, dc_lone_wait_follow, dc_lone_wait_judged). */
enum { WAIT_UNSURE, WAIT_LONE, WAIT_RUNS };

/* media.c: references held by callbacks on other threads; the last release clears it. */
dc_endpoint_media *media_ref(dc_endpoint_media *m);
void media_unref(dc_endpoint_media *m);
/* media.c: what a call to the owner's thread does (media_post). */
typedef enum { CALL_OFFER, CALL_CANDIDATE, CALL_ICE_STATE, CALL_STATS, CALL_AUDIO_WAIT } call_kind;
/* media.c: from any thread, a call run on the owner's thread (text and stats are taken). */
void media_post(dc_endpoint_media *m, call_kind kind, char *text, int state, GstStructure *stats);

/* media.c: whether this GStreamer has the element (a plugin may be missing). */
bool media_has_element(const char *name);
/* media_receive.c, webrtcbin's pad-added: a received stream linked to where it plays. */
void media_on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data);

/* media_audio.c, rtpbin's streaming thread: a new stream's jitter buffer (rtpbin's
 * new-jitterbuffer signal). */
void media_on_new_jitterbuffer(GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc, gpointer data);
/* media_audio.c, the owner's thread: the mix's wait as its loss now says (CALL_AUDIO_WAIT). */
void media_follow_wait_state(dc_endpoint_media *m, bool in_a_pause);
/* media_audio.c: a received stream of the mix, its decoder's branch for the playback's
 * mixer (what it plays and what is lost counted on it); NULL, err set, when it cannot be made. */
GstElement *media_mix_branch(dc_endpoint_media *m, GError **err);
/* media_audio.c: a pad probe on the WAV's way in (data: the media): where it sits on the wall
 * clock. */
GstPadProbeReturn media_time_recording(GstPad *pad, GstPadProbeInfo *info, gpointer data);
/* media_audio.c: webrtcbin's deep-element-added: a frame its RED decoder rebuilds from a copy
 * goes on to the jitter buffer. */
void media_play_red_copies(GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data);
/* media_audio.c: the microphone's transceiver offers RED (RFC 2198). */
void media_offer_audio_red(dc_endpoint_media *m);

/* media_ice.c: webrtcbin's libnice agent sends each check DC_ICE_CHECK_SENDS times, and
 * gathers TCP candidates only when tcp; at the close, its TURN allocations given back (waits
 * for the server's answers, at most a second). */
void media_tune_ice(GstElement *webrtc, bool tcp);
void media_release_relays(GstElement *webrtc);

/* media_stats.c, the owner's thread: webrtcbin asked for its stats (a GSourceFunc; data: the
 * media), and its reply (CALL_STATS). */
gboolean media_ask_stats(gpointer data);
void media_on_stats_reply(dc_endpoint_media *m, const GstStructure *stats);

#endif
