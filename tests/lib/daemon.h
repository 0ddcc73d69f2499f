/* daemon.h — what the tests that drive the real daemon without a browser share: the daemon
 * dies with the test (even when an assertion aborts it), the main loop is spun until a
 * condition holds, saying how long that took, and the daemon must stop cleanly on SIGTERM. */
#ifndef DC_TEST_DAEMON_H
#define DC_TEST_DAEMON_H

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <stdbool.h>

/* Points come from loopback addresses of their own, DC_TEST_POINTS_PER_ADDRESS to each, as
 * points behind different NATs do: the bridge lets one address hold only 32 connections that
 * have not joined yet (a flood's bound), which a storm from one address passes, and its
 * refused joins then come back later. The session for the k-th of them (127.0.1.1 on). */
#define DC_TEST_POINTS_PER_ADDRESS 16
SoupSession *dc_test_point_session(int k);

/* Where the daemon listens and gathers, and where the points' sessions come from: loopback,
 * unless a load run over a link of its own says otherwise (tests/load/over-veth): then
 * DC_TEST_BRIDGE_ADDRESS is the bridge's address and DC_TEST_POINT_NET the first two octets
 * of the points' (A.B: A.B.1.1 on, as 127.0 gives 127.0.1.1 on). */
const char *dc_test_bridge_address(void);
/* Where the daemon answers /metrics to us (off loopback, on port + 1). g_free() it. */
char *dc_test_metrics_url(int port);

/* For g_subprocess_launcher_set_child_setup: SIGTERM to the daemon when the test goes. */
void dc_test_die_with_parent(gpointer unused);

/* Iterates the main context until pred() holds or ms pass; logs (g_test_message) how long it
 * took or that it never held. The ceilings are generous (a busy machine, the ASan build): a
 * passing wait ends as soon as its condition holds. */
bool dc_test_spin_until_named(bool (*pred)(void), int ms, const char *what);
#define dc_test_spin_until(pred, ms) dc_test_spin_until_named(pred, ms, #pred)
void dc_test_spin_for(int ms);

/* SIGTERM, then asserts it exited by itself with status 0 (sanitizers included). */
void dc_test_assert_stops_cleanly(GSubprocess *daemon);

/* A store in dir with one meeting, open from 1970 to 2096, and n participant invitations to
 * one point: their join tokens in *tokens (g_strfreev). An admin key is made so the daemon
 * prints none. Returns the meeting's id. */
int64_t dc_test_make_meeting(const char *dir, int n, char ***tokens);
/* The same with k meetings (their ids in meetings[k]): invitation i is to meetings[i % k]. */
void dc_test_make_meetings(const char *dir, int k, int n, char ***tokens, int64_t *meetings);

/* Starts the daemon on loopback (plain HTTP on port and ICE on 127.0.0.1, or both on
 * dc_test_bridge_address(); its data in dir, the log level given, stdout silenced); it dies with us. NULL, having said why on stderr, when it
 * cannot start or exits in its first half second (a port in use, say). */
GSubprocess *dc_test_start_bridge(const char *exe, const char *dir, int port, const char *log_level);
/* The same with more of the daemon's flags after those (NULL-terminated; NULL: none). */
GSubprocess *dc_test_start_bridge_with(const char *exe, const char *dir, int port, const char *log_level,
                                       const char *const *extra);
GPid dc_test_pid(GSubprocess *p);

/* CPU time a process has used so far (user + system), in seconds; -1 when unreadable. */
double dc_test_cpu_s(GPid pid);

/* A process's resident memory (VmRSS) in KiB and its open descriptors; -1 when unreadable. */
long dc_test_rss_kib(GPid pid);
/* Its anonymous resident memory (RssAnon: the heap and stacks, without the libraries' pages,
 * which a process touches once however many it serves), in KiB; -1 when unreadable. */
long dc_test_rss_anon_kib(GPid pid);
int dc_test_open_fds(GPid pid);

/* The daemon's /metrics on loopback (it answers there on its main port), fetched through
 * session while the main context turns; asserts a 200 within 10 s. g_free() it. */
char *dc_test_fetch_metrics(SoupSession *session, int port);
/* One sample's value in a /metrics text (name with its labels, as written), or -1. */
double dc_test_metric(const char *text, const char *name);
/* An operator's call to the daemon's API on loopback, with key as its Bearer token: body (JSON)
 * is POSTed, or NULL for a GET. Returns the HTTP status; the answer's body goes to *reply
 * (g_free() it) when reply is not NULL. */
guint dc_test_api(SoupSession *session, int port, const char *key, const char *path, const char *body, char **reply);

#endif
