/* room.h — the bridge side of a meeting: participants, their transports, and where each
 * one's media goes. This is the one interface signaling uses (DESIGN.md rule 3): join, give
 * the offer and get the answer, trickle candidates, mute, leave; events come back through
 * dc_participant_events on the main thread.
 *
 * Audio goes through the room's mixer (media/mixer): a mix clock thread ticks every room
 * every 20 ms on absolute CLOCK_MONOTONIC deadlines; each participant gets its tier's mix,
 * or its own mix without its voice while it talks, as one continuous RTP stream with the
 * audio level extension set.
 *
 * Video: each receiver's main slot carries the participant the host pinned, else the
 * dominant speaker's camera (the mixer says who), or, while the receiver itself speaks,
 * whoever spoke before; thumbnails carry the others by most recent speech (last-N), then in
 * join order. Each slot is a media/router dc_slot: one continuous stream that switches
 * source or layer only at a key frame, asked for with a throttled PLI (FIR where the source
 * negotiated only that), while the old one
 * keeps flowing; header extension ids are renumbered per receiver and abs-send-time is
 * restamped with our send time; receivers' PLI/FIR go upstream.
 *
 * Layers and bandwidth: every 500 ms the main thread fits each receiver's slots under its
 * estimate (media/router dc_bwe from its receiver reports and REMB) using the layer rates
 * the sources' workers measured: the main slot gets the highest layer that fits, thumbnails
 * their lowest while they fit, and a slot that does not fit is turned off (the slot map
 * shows it empty). Each source gets a REMB at its link profile's rate and our receiver
 * reports every second.
 *
 * Repairs: each source keeps about a second of its video (media/repair); a receiver's NACK
 * is mapped through its slot to the source's packets and served from that cache on the
 * source's worker, as RTX, at most 200 per 500 ms per
 * receiver. A receiver that negotiated NACK without RTX gets no repairs: a packet sent again
 * under its own SRTP index with a restamped abs-send-time would reuse a nonce. Gaps in what a source sends us are NACKed upstream at once and its RTX
 * unwrapped, so each leg is repaired on its own.
 *
 * Threads: room membership changes on the main thread, under a writer lock; packets are
 * routed on the source's worker under a reader lock, and rewritten, protected and sent on
 * the receiver's worker, so no lock is held across a send.
 */
#ifndef DC_ROOM_H
#define DC_ROOM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "bridge/transport.h"

typedef struct dc_bridge dc_bridge;
typedef struct dc_room dc_room;
typedef struct dc_participant dc_participant;

/* On the main thread: the room's dominant speaker changed (participant id, 0 = nobody). */
typedef void (*dc_speaker_fn)(gpointer user, int64_t meeting, int64_t participant);
/* On the main thread: a meeting's recording ended, its files finished. error: NULL when it
 * was stopped, else why it ended by itself (a full disk, a write error). */
typedef void (*dc_recording_fn)(gpointer user, int64_t meeting, const char *error);

typedef struct {
  unsigned workers;  /* 0 = one per core */
  unsigned max_room; /* participants per room, for the mixer; 0 = 512 */
  unsigned talkers;  /* mixed at once, 1..8; 0 = 3 */
  unsigned big_room; /* a tier's members for its mix in 40 ms frames (media/mixer.h); 0 = 100 */
  unsigned connect_timeout_s; /* a participant whose media is not up by then is told; 0 = 20 */
  bool no_red;       /* no RED (RFC 2198) audio redundancy, either way: to measure what it gains */
  bool no_video_fec; /* no ULPFEC (RFC 5109) asked of highland cameras: to measure what it gains */
  bool red_always;   /* RED to every receiver that takes it from its first packet, lossy or not */
  bool no_io_uring;  /* media sends and reads a system call each, never batched by io_uring
                      * (bridge/uring.h); the process's, not only this bridge's */
  bool no_silence_filter; /* every audio packet read, silent ones too (bridge/silence_filter.h) */
  bool no_realtime_clock; /* the mix clock at the ordinary priority (audio.c, mix_clock_run) */
  dc_speaker_fn on_speaker;
  gpointer speaker_user;
  dc_recording_fn on_recording;
  gpointer recording_user;
  dc_transport_config transport;
} dc_bridge_config;

typedef struct {
  /* On the main thread. */
  void (*candidate)(gpointer user, const char *candidate);
  void (*state)(gpointer user, dc_transport_state state, const char *reason);
  /* Who fills the participant's video slots now: sources[k] is a participant id, 0 when
   * the slot is empty. Sent on every change, so a page can label its tiles. */
  void (*slots)(gpointer user, const int64_t *sources, int n);
  /* The rate the participant's audio encoder should keep to (bits per second of its codec;
   * 0: what the answer asked): its uplink queues what it sends. May be NULL. */
  void (*audio_rate)(gpointer user, unsigned max_bps);
} dc_participant_events;


dc_bridge *dc_bridge_new(const dc_bridge_config *cfg, GError **error);
/* Main thread, before everyone leaves at shutdown: stops the mix clock and the layer choice
 * and makes later leaves quiet (no new slot maps). dc_bridge_free calls it too. */
void dc_bridge_stop(dc_bridge *b);
void dc_bridge_free(dc_bridge *b);
const char *dc_bridge_fingerprint(const dc_bridge *b);
/* The mix clock over its last whole second (any thread): the share of its time mixing took
 * (percent; at DC_MIX_EFFORT_LATE and over every tick starts late) and whether the encoders work
 * at reduced effort (bridge/audio.c). For the operators' live view. */
typedef struct {
  unsigned clock_pct;
  bool reduced_effort, late;
} dc_mix_state;
dc_mix_state dc_bridge_mix_state(dc_bridge *b);
dc_room *dc_bridge_room(dc_bridge *b, int64_t meeting_id); /* made on first use */
dc_room *dc_bridge_find_room(dc_bridge *b, int64_t meeting_id); /* NULL when never used */
unsigned dc_room_size(const dc_room *r);

/* profile: the join's link profile ("hall", "standard", "highland"), which picks the audio
 * tier; anything else means "standard". audio_wait_ms: how long the point's jitter buffer
 * waits for a late or repaired packet, as its join said (0: not said, a browser); how far
 * back its audio copies may reach (media/mixer dc_mixer_red_reach_policy). */
dc_participant *dc_room_join(dc_room *r, int64_t id, const char *name, const char *profile, unsigned audio_wait_ms,
                             const dc_participant_events *ev, gpointer user);
/* Negotiates the offer (media/sdp), starts the transport and returns the answer to send,
 * or NULL with a message fit for the participant. */
char *dc_participant_offer(dc_participant *p, const char *sdp, GError **error);
void dc_participant_add_candidate(dc_participant *p, const char *candidate);
/* Its jitter buffer now waits audio_wait_ms (an audio_wait message; as its join's above). */
void dc_participant_set_audio_wait(dc_participant *p, unsigned audio_wait_ms);
void dc_participant_set_muted(dc_participant *p, bool muted);
/* An observer (listen and watch only): nothing it sends is mixed or forwarded, and it fills
 * nobody's video slots. Set once, right after joining. */
void dc_participant_set_observer(dc_participant *p);
/* Pins a participant to everyone's main slot (the pinned one sees the next in order);
 * 0 unpins. False when no such participant is in the room. */
bool dc_room_pin(dc_room *r, int64_t participant);

/* Records the meeting (bridge/recorder.h): the full mix into audio_path (Ogg Opus) and the
 * main picture (the host's pin, else the latest speaker) into video_path (WebM), a key frame
 * asked of it at once. *started_at_ms: the wall-clock time (Unix ms) of both files' zero. False with an error when it records already or a file cannot be
 * made. Stopping (or dc_bridge_stop) finishes both files; on_recording tells when. */
bool dc_room_record_start(dc_room *r, const char *audio_path, const char *video_path, int64_t *started_at_ms,
                          GError **error);
bool dc_room_record_stop(dc_room *r); /* false when it was not recording */
bool dc_room_recording(dc_room *r);

/* Leaves the room; no event arrives for user after this returns. */
void dc_participant_leave(dc_participant *p);

#endif
