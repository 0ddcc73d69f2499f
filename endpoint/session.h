/* session.h — one endpoint in one meeting: signaling over a WebSocket (libsoup), the media,
 * and coming back by itself.
 *
 * Speaks signaling/PROTOCOL.md with the bridge through signaling/protocol.c's writers and
 * parser (shared with the bridge, not copied). Checks the bridge's TLS certificate against
 * the system store, a CA file, or a pinned SHA-256 fingerprint (the bridge's self-signed
 * certificate); --insecure skips the check and says so on every start. After a lost link, a
 * bridge restart or failed media it reconnects with a bounded backoff (at most 1.2 s
 * apart, so it is back within 5 s of the bridge being reachable); an answer that no retry
 * can change (a bad token, an expired invitation, a meeting that ended, a certificate we do
 * not trust) ends the session with its own exit code.
 */
#ifndef DC_ENDPOINT_SESSION_H
#define DC_ENDPOINT_SESSION_H

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <stdbool.h>

#include "endpoint/media.h"
#include "endpoint/profile.h"

/* Exit codes: stable, documented in --help and README. */
enum {
  DC_EXIT_OK = 0,          /* left: asked to stop, or the meeting ended while we were in it */
  DC_EXIT_FAILURE = 1,     /* something else: the message says what */
  DC_EXIT_USAGE = 2,       /* bad options, link or config file */
  DC_EXIT_UNREACHABLE = 3, /* no bridge answered for --give-up-after seconds */
  DC_EXIT_CERTIFICATE = 4, /* the bridge's TLS certificate is not one we trust */
  DC_EXIT_REFUSED = 5,     /* the invitation or device key is not valid (or was revoked) */
  DC_EXIT_EXPIRED = 6,     /* the invitation's time is over */
  DC_EXIT_ENDED = 7,       /* the meeting is over or does not exist */
  DC_EXIT_MEDIA = 8,       /* media never came up (UDP blocked?) for --give-up-after seconds */
};

typedef struct {
  dc_join_link link;
  char *name;
  const dc_profile *profile;
  dc_media_config media;
  char *ca_file, *pin; /* pin: SHA-256 of the certificate, hex, colons optional */
  bool insecure;
  bool stats;          /* JSON lines on stdout */
  unsigned give_up_after_s; /* 0: never (unattended boxes) */
  bool leave_when_ended;    /* a meeting that ends is a normal end (exit 0), not an error */
} dc_session_config;

/* Trusting the bridge's certificate: the system store (or --ca, set on the SoupSession with
 * dc_trust_use_ca), else a pinned fingerprint, else --insecure. Connect dc_trust_accept to a
 * message's "accept-certificate"; a refused certificate's fingerprint is kept in `refused`. */
typedef struct {
  const char *pin;
  bool insecure;
  char *refused;
} dc_trust;

gboolean dc_trust_accept(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer trust);
bool dc_trust_use_ca(SoupSession *http, const char *ca_file, GError **error);
/* Says, in words, what to do about a refused certificate. */
void dc_trust_explain(const dc_trust *t);

typedef struct dc_session dc_session;

/* One line for the people running the endpoint, on stderr: "diemcau-endpoint: ...". */
void dc_endpoint_say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* on_end: called once with the exit code when the session is over. */
dc_session *dc_session_new(const dc_session_config *cfg, void (*on_end)(int code, void *user), void *user);
void dc_session_start(dc_session *s);
/* Leaves politely (a leave message) and ends with DC_EXIT_OK. */
void dc_session_leave(dc_session *s);
void dc_session_free(dc_session *s);

#endif
