/* server_harness.h — the real signaling server (store, bridge, WebSocket and REST API) in a
 * libFuzzer process, for the targets that feed it whole conversations rather than one parse
 * call: fuzz_signaling_session (messages on one WebSocket) and fuzz_api_body (the operator
 * API's request bodies and queries).
 *
 * Made once per process: a store in a scratch directory with three points and an admin key,
 * and live meetings made on demand with a host, two participants and an observer invited; a bridge with one worker whose
 * ICE uses loopback only; the server on 127.0.0.1, an ephemeral port, plain HTTP, with a
 * recordings directory that cannot be made (see server_harness.c). Everything
 * runs on this thread's main context, which the helpers below iterate: a client request and
 * the server's answer are both served by it. Nothing here leaves loopback.
 *
 * A critical in the server or bridge aborts (a broken invariant is a crash to libFuzzer);
 * their messages and warnings are not printed (bad input is expected to be refused).
 */
#ifndef DC_FUZZ_SERVER_HARNESS_H
#define DC_FUZZ_SERVER_HARNESS_H

#include <libsoup/soup.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  void *store;       /* the server's dc_store */
  char *base;        /* "http://127.0.0.1:PORT" */
  char *ws_url;      /* base + "/ws" */
  char *admin_key;   /* the operator API key (admin) */
  int64_t points[3]; /* the hall, commune A, commune B */
  int64_t meeting;   /* a live meeting (fuzz_server_new_meeting) */
  char *tokens[4];   /* its join tokens: host, participant A, participant B, observer */
  bool ready;
} fuzz_server;

/* The process's server, made on first call, with one live meeting. */
fuzz_server *fuzz_server_get(void);
/* A new live meeting with its four invitations: an input that ended, locked or emptied the
 * last one leaves the next input a meeting as fresh as the first. (The bridge lets a room
 * go when its last participant leaves, so this costs a few rows, not a mixer each.) */
void fuzz_server_new_meeting(fuzz_server *fs);
/* Whether its meeting may still be joined (not ended, cancelled or moved away). */
bool fuzz_server_meeting_live(fuzz_server *fs);

/* A client session from a loopback address of its own (127.x.y.z, a new one each call, the
 * caller unrefs it): the server limits invalid join links and operator keys per address, and
 * a fuzzer's stream of them would otherwise shut every later input out at the door. */
SoupSession *fuzz_server_client(void);

/* Runs the main context until *done or the deadline (ms) passes; whether done came. */
bool fuzz_server_run_until(const bool *done, int ms);
/* Runs the main context while it has work ready, at most max_rounds dispatches. */
void fuzz_server_settle(int max_rounds);

#endif
