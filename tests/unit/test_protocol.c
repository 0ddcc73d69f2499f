/* Unit tests for signaling/protocol: each message type, and each kind of bad input getting
 * its stable error code. */
#include <glib.h>
#include <string.h>

#include "signaling/protocol.h"

static void ok(const char *text, dc_client_msg *m) {
  const char *code = NULL;
  char *message = NULL;
  if (!dc_protocol_parse(text, strlen(text), m, &code, &message))
    g_error("refused %s: %s %s", text, code, message);
}

static void bad(const char *text, const char *want_code, const char *needle) {
  dc_client_msg m;
  const char *code = NULL;
  char *message = NULL;
  g_assert_false(dc_protocol_parse(text, strlen(text), &m, &code, &message));
  g_assert_cmpstr(code, ==, want_code);
  if (needle && !strstr(message, needle))
    g_error("message \"%s\" lacks \"%s\"", message, needle);
  g_assert_null(m.token); /* nothing half-parsed is left behind */
  g_free(message);
}

static void test_messages(void) {
  dc_client_msg m;
  ok("{\"v\":1,\"type\":\"join\",\"meeting\":3,\"token\":\"dc1.x.y\",\"name\":\" Xã Tà Xùa \","
     "\"profile\":\"highland\",\"slots\":1}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_JOIN);
  g_assert_cmpint(m.meeting, ==, 3);
  g_assert_cmpstr(m.name, ==, "Xã Tà Xùa");
  g_assert_cmpstr(m.profile, ==, "highland");
  g_assert_cmpint(m.slots, ==, 1);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"join\",\"meeting\":3,\"token\":\"t\",\"name\":\"A\"}", &m);
  g_assert_cmpstr(m.profile, ==, "standard"); /* defaults */
  g_assert_cmpint(m.slots, ==, 3);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}", &m);
  g_assert_cmpstr(m.sdp, ==, "v=0\r\n");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 5 typ host\",\"mid\":\"0\"}", &m);
  g_assert_cmpstr(m.mid, ==, "0");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\"}", &m);
  g_assert_cmpstr(m.candidate, ==, "");
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"mute\",\"audio\":true}", &m);
  g_assert_true(m.audio_muted);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"pin\",\"participant\":7}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_PIN);
  g_assert_cmpint(m.participant, ==, 7);
  dc_client_msg_clear(&m);
  ok("{\"v\":1,\"type\":\"unpin\"}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_UNPIN);
  dc_client_msg_clear(&m);
  ok("{\"type\":\"leave\",\"v\":1,\"extra\":[1,2]}", &m); /* unknown members are ignored */
  g_assert_cmpint(m.type, ==, DC_MSG_LEAVE);
  dc_client_msg_clear(&m);
  /* the chair's (issue 14) */
  ok("{\"v\":1,\"type\":\"hand\",\"raised\":true}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_HAND);
  g_assert_true(m.raised);
  ok("{\"v\":1,\"type\":\"host_mute\",\"participant\":4,\"muted\":true}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_HOST_MUTE);
  g_assert_cmpint(m.participant, ==, 4);
  g_assert_true(m.audio_muted);
  ok("{\"v\":1,\"type\":\"mute_all\",\"muted\":false}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_MUTE_ALL);
  g_assert_false(m.audio_muted);
  ok("{\"v\":1,\"type\":\"give_floor\",\"participant\":9}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_GIVE_FLOOR);
  ok("{\"v\":1,\"type\":\"take_floor\"}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_TAKE_FLOOR);
  ok("{\"v\":1,\"type\":\"remove\",\"participant\":9}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_REMOVE);
  ok("{\"v\":1,\"type\":\"readmit\",\"invitation\":12}", &m);
  g_assert_cmpint(m.invitation, ==, 12);
  ok("{\"v\":1,\"type\":\"lock\",\"locked\":true}", &m);
  g_assert_true(m.locked);
  ok("{\"v\":1,\"type\":\"end_meeting\"}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_END_MEETING);
  ok("{\"v\":1,\"type\":\"record\",\"recording\":true}", &m);
  g_assert_cmpint(m.type, ==, DC_MSG_RECORD);
  g_assert_true(m.recording);
}

static void test_bad_input(void) {
  bad("{\"v\":1,\"type\":\"hand\"}", DC_ERR_CODE_BAD_MESSAGE, "raised");
  bad("{\"v\":1,\"type\":\"hand\",\"raised\":1}", DC_ERR_CODE_BAD_MESSAGE, "true or false");
  bad("{\"v\":1,\"type\":\"host_mute\",\"muted\":true}", DC_ERR_CODE_BAD_MESSAGE, "participant");
  bad("{\"v\":1,\"type\":\"host_mute\",\"participant\":0,\"muted\":true}", DC_ERR_CODE_BAD_MESSAGE, "participant");
  bad("{\"v\":1,\"type\":\"give_floor\"}", DC_ERR_CODE_BAD_MESSAGE, "participant");
  bad("{\"v\":1,\"type\":\"readmit\",\"invitation\":\"3\"}", DC_ERR_CODE_BAD_MESSAGE, "invitation");
  bad("{\"v\":1,\"type\":\"lock\"}", DC_ERR_CODE_BAD_MESSAGE, "locked");
  bad("{\"v\":1,\"type\":\"record\",\"recording\":\"on\"}", DC_ERR_CODE_BAD_MESSAGE, "recording");
  bad("", DC_ERR_CODE_BAD_MESSAGE, "JSON");
  bad("{", DC_ERR_CODE_BAD_MESSAGE, "JSON");
  bad("[1,2]", DC_ERR_CODE_BAD_MESSAGE, "object");
  bad("{\"type\":\"join\"}", DC_ERR_CODE_BAD_MESSAGE, "\"v\"");
  bad("{\"v\":2,\"type\":\"join\"}", DC_ERR_CODE_UNSUPPORTED_VERSION, "version 1");
  bad("{\"v\":1,\"type\":\"dance\"}", DC_ERR_CODE_UNKNOWN_TYPE, "dance");
  bad("{\"v\":1,\"type\":7}", DC_ERR_CODE_BAD_MESSAGE, "\"type\"");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":\"3\",\"token\":\"t\",\"name\":\"A\"}",
      DC_ERR_CODE_BAD_MESSAGE, "meeting");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":0,\"token\":\"t\",\"name\":\"A\"}",
      DC_ERR_CODE_BAD_MESSAGE, "meeting");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"name\":\"A\"}", DC_ERR_CODE_BAD_MESSAGE, "token");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"   \"}",
      DC_ERR_CODE_BAD_MESSAGE, "empty");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"slots\":10}",
      DC_ERR_CODE_BAD_MESSAGE, "slots");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"profile\":\"moon\"}",
      DC_ERR_CODE_BAD_MESSAGE, "profile");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"audio_wait_ms\":-1}",
      DC_ERR_CODE_BAD_MESSAGE, "audio_wait_ms");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"audio_wait_ms\":2001}",
      DC_ERR_CODE_BAD_MESSAGE, "between 0 and 2000");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"A\",\"audio_wait_ms\":\"260\"}",
      DC_ERR_CODE_BAD_MESSAGE, "whole number");
  bad("{\"v\":1,\"type\":\"audio_wait\"}", DC_ERR_CODE_BAD_MESSAGE, "audio_wait_ms");
  bad("{\"v\":1,\"type\":\"audio_wait\",\"audio_wait_ms\":2001}", DC_ERR_CODE_BAD_MESSAGE, "between 0 and 2000");
  bad("{\"v\":1,\"type\":\"audio_wait\",\"audio_wait_ms\":1.5}", DC_ERR_CODE_BAD_MESSAGE, "whole number");
  bad("{\"v\":1,\"type\":\"mute\",\"audio\":\"yes\"}", DC_ERR_CODE_BAD_MESSAGE, "audio");
  bad("{\"v\":1,\"type\":\"offer\"}", DC_ERR_CODE_BAD_MESSAGE, "sdp");
  bad("{\"v\":1,\"type\":\"pin\",\"participant\":0}", DC_ERR_CODE_BAD_MESSAGE, "participant");
  bad("{\"v\":1,\"type\":\"join\",\"meeting\":1,\"token\":\"t\",\"name\":\"\xff\xfe\"}",
      DC_ERR_CODE_BAD_MESSAGE, "UTF-8");
  char *huge = g_strnfill(DC_PROTOCOL_MAX_MESSAGE + 1, ' ');
  bad(huge, DC_ERR_CODE_TOO_LARGE, "limited");
  g_free(huge);
}

static void test_writers(void) {
  char *e = dc_protocol_error("bad-message", "quote \" and newline \n");
  g_assert_cmpstr(e, ==, "{\"v\":1,\"type\":\"error\",\"code\":\"bad-message\",\"message\":\"quote \\\" and newline \\n\"}");
  g_free(e);
  char *a = dc_protocol_answer("v=0\r\n");
  g_assert_cmpstr(a, ==, "{\"v\":1,\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}");
  g_free(a);
}

/* The endpoint's side: what the bridge's writers make, the endpoint's parser reads back. */
static void test_client_side(void) {
  dc_roster_entry roster[] = {{.participant = 1, .name = "Nguyễn Văn A", .point = "Hội trường UBND huyện", .role = "host",
                               .connected = true},
                              {.participant = 2, .name = "B", .point = "Xã Tà Xùa", .role = "participant", .muted = true,
                               .host_muted = true, .hand = 1}};
  int64_t slots[] = {2, 0, 1};
  dc_roster_meeting recorded = {.recording = true};
  char *texts[] = {dc_protocol_roster(roster, 2, &recorded), dc_protocol_slots(slots, 3), dc_protocol_speaker(0),
                   dc_protocol_joined(7, "Xã Tà Xùa", "participant", NULL, 0), dc_protocol_error("expired-token", "over"),
                   dc_protocol_candidate("", NULL), dc_protocol_answer("v=0\r\n"), dc_protocol_audio_rate(10000)};
  dc_server_msg m;
  char *why = NULL;
  g_assert_true(dc_protocol_parse_server(texts[0], strlen(texts[0]), &m, &why));
  g_assert_cmpint(m.type, ==, DC_SMSG_ROSTER);
  g_assert_cmpuint(m.n_roster, ==, 2);
  g_assert_cmpstr(m.roster[0].point, ==, "Hội trường UBND huyện");
  g_assert_true(m.roster[1].muted && !m.roster[1].connected && m.roster[0].connected);
  g_assert_true(m.recording);
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[1], strlen(texts[1]), &m, &why));
  g_assert_cmpint(m.n_slots, ==, 3);
  g_assert_cmpint(m.slots[0], ==, 2);
  g_assert_cmpint(m.slots[1], ==, 0);
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[2], strlen(texts[2]), &m, &why));
  g_assert_cmpint(m.type, ==, DC_SMSG_SPEAKER);
  g_assert_cmpint(m.participant, ==, 0);
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[3], strlen(texts[3]), &m, &why));
  g_assert_cmpint(m.participant, ==, 7);
  g_assert_cmpstr(m.role, ==, "participant");
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[4], strlen(texts[4]), &m, &why));
  g_assert_cmpstr(m.code, ==, "expired-token");
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[5], strlen(texts[5]), &m, &why));
  g_assert_cmpstr(m.candidate, ==, "");
  g_assert_null(m.mid);
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[6], strlen(texts[6]), &m, &why));
  g_assert_cmpstr(m.sdp, ==, "v=0\r\n");
  dc_server_msg_clear(&m);
  g_assert_true(dc_protocol_parse_server(texts[7], strlen(texts[7]), &m, &why));
  g_assert_cmpint(m.type, ==, DC_SMSG_AUDIO_RATE);
  g_assert_cmpint(m.max_bitrate, ==, 10000);
  dc_server_msg_clear(&m);
  const char *too_high = "{\"v\":1,\"type\":\"audio-rate\",\"max_bitrate\":9999999}";
  g_assert_false(dc_protocol_parse_server(too_high, strlen(too_high), &m, &why));
  g_assert_nonnull(why);
  g_clear_pointer(&why, g_free);
  for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
    g_free(texts[i]);

  /* and what the endpoint writes, the bridge's parser accepts */
  char *join = dc_protocol_join(3, "tok", "Xã Tà Xùa", "highland", 1, 260), *pin = dc_protocol_pin(5),
       *unpin = dc_protocol_pin(0), *mute = dc_protocol_mute(true), *leave = dc_protocol_leave(),
       *offer = dc_protocol_offer("v=0\r\n");
  dc_client_msg c;
  ok(join, &c);
  g_assert_cmpint(c.meeting, ==, 3);
  g_assert_cmpstr(c.profile, ==, "highland");
  g_assert_cmpint(c.slots, ==, 1);
  g_assert_cmpint(c.audio_wait_ms, ==, 260);
  dc_client_msg_clear(&c);
  char *browser_like = dc_protocol_join(3, "tok", "Xã Tà Xùa", "standard", 3, 0); /* no wait said */
  g_assert_null(strstr(browser_like, "audio_wait_ms"));
  ok(browser_like, &c);
  g_assert_cmpint(c.audio_wait_ms, ==, 0);
  dc_client_msg_clear(&c);
  g_free(browser_like);
  char *wait = dc_protocol_audio_wait(260);
  ok(wait, &c);
  g_assert_cmpint(c.type, ==, DC_MSG_AUDIO_WAIT);
  g_assert_cmpint(c.audio_wait_ms, ==, 260);
  dc_client_msg_clear(&c);
  g_free(wait);
  ok(pin, &c);
  g_assert_cmpint(c.type, ==, DC_MSG_PIN);
  g_assert_cmpint(c.participant, ==, 5);
  dc_client_msg_clear(&c);
  ok(unpin, &c);
  g_assert_cmpint(c.type, ==, DC_MSG_UNPIN);
  dc_client_msg_clear(&c);
  ok(mute, &c);
  g_assert_true(c.audio_muted);
  dc_client_msg_clear(&c);
  ok(leave, &c);
  g_assert_cmpint(c.type, ==, DC_MSG_LEAVE);
  dc_client_msg_clear(&c);
  ok(offer, &c);
  g_assert_cmpint(c.type, ==, DC_MSG_OFFER);
  dc_client_msg_clear(&c);
  g_free(join), g_free(pin), g_free(unpin), g_free(mute), g_free(leave), g_free(offer);
}

/* joined's ICE servers: what the bridge writes, the endpoint reads back; a browser's
 * RTCIceServer shapes (urls as one string) are read too. */
static void test_joined_ice_servers(void) {
  char *stun_urls[] = {"stun:10.0.0.9:3478", NULL}, *turn_urls[] = {"turn:10.0.0.9:3478?transport=tcp", "turns:t.example.vn:443", NULL};
  dc_ice_server ice[] = {{.urls = stun_urls}, {.urls = turn_urls, .username = "1767225600:m1p7", .credential = "c2VjcmV0"}};
  char *text = dc_protocol_joined(7, "Xã Tà Xùa", "participant", ice, 2);
  dc_server_msg m;
  char *why = NULL;
  g_assert_true(dc_protocol_parse_server(text, strlen(text), &m, &why));
  g_assert_cmpuint(m.n_ice_servers, ==, 2);
  g_assert_cmpstr(m.ice_servers[0].urls[0], ==, "stun:10.0.0.9:3478");
  g_assert_null(m.ice_servers[0].urls[1]);
  g_assert_null(m.ice_servers[0].username);
  g_assert_cmpstr(m.ice_servers[1].urls[1], ==, "turns:t.example.vn:443");
  g_assert_cmpstr(m.ice_servers[1].username, ==, "1767225600:m1p7");
  g_assert_cmpstr(m.ice_servers[1].credential, ==, "c2VjcmV0");
  dc_server_msg_clear(&m);
  g_free(text);
  const char *one = "{\"v\":1,\"type\":\"joined\",\"participant\":3,\"point\":\"p\",\"role\":\"host\","
                    "\"ice_servers\":[{\"urls\":\"turn:h:3478\",\"username\":\"u\",\"credential\":\"c\"}]}";
  g_assert_true(dc_protocol_parse_server(one, strlen(one), &m, &why));
  g_assert_cmpstr(m.ice_servers[0].urls[0], ==, "turn:h:3478");
  dc_server_msg_clear(&m);
  /* none at all: an older bridge */
  text = dc_protocol_joined(7, "p", "host", NULL, 0);
  g_assert_true(dc_protocol_parse_server(text, strlen(text), &m, &why));
  g_assert_cmpuint(m.n_ice_servers, ==, 0);
  dc_server_msg_clear(&m);
  g_free(text);
}

/* A bridge's frame that is wrong in any way is refused whole, with a reason. */
static void test_client_side_bad_input(void) {
  const char *bad_frames[] = {
      "", "null", "[]", "{\"v\":2,\"type\":\"joined\"}", "{\"v\":1,\"type\":\"nope\"}",
      "{\"v\":1,\"type\":\"joined\",\"participant\":0,\"point\":\"x\",\"role\":\"host\"}",
      "{\"v\":1,\"type\":\"slots\",\"slots\":[1,2,3,4,5,6,7,8,9,10]}",
      "{\"v\":1,\"type\":\"slots\",\"slots\":[-1]}",
      "{\"v\":1,\"type\":\"slots\",\"slots\":[\"1\"]}",
      "{\"v\":1,\"type\":\"roster\",\"participants\":[{\"participant\":1,\"name\":\"a\",\"point\":\"p\",\"role\":\"host\"}]}",
      "{\"v\":1,\"type\":\"roster\",\"participants\":[1]}",
      "{\"v\":1,\"type\":\"error\",\"code\":\"x\"}",
#define JOINED "{\"v\":1,\"type\":\"joined\",\"participant\":3,\"point\":\"p\",\"role\":\"host\","
      JOINED "\"ice_servers\":{}}",
      JOINED "\"ice_servers\":[1]}",
      JOINED "\"ice_servers\":[{}]}",
      JOINED "\"ice_servers\":[{\"urls\":[]}]}",
      JOINED "\"ice_servers\":[{\"urls\":[1]}]}",
      JOINED "\"ice_servers\":[{\"urls\":\"http://x\"}]}",
      JOINED "\"ice_servers\":[{\"urls\":\"turn:h\"}]}", /* TURN without credentials */
      JOINED "\"ice_servers\":[{\"urls\":\"turn:h\",\"username\":\"u\",\"credential\":7}]}",
      JOINED "\"ice_servers\":[{\"urls\":\"stun:a\"},{\"urls\":\"stun:a\"},{\"urls\":\"stun:a\"},{\"urls\":\"stun:a\"},{\"urls\":\"stun:a\"}]}",
      JOINED "\"ice_servers\":[{\"urls\":\"stun:a\"},{\"urls\":\"turn:b\"}]}", /* the first parsed, the second bad */
#undef JOINED
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad_frames); i++) {
    dc_server_msg m;
    char *why = NULL;
    g_assert_false(dc_protocol_parse_server(bad_frames[i], strlen(bad_frames[i]), &m, &why));
    g_assert_nonnull(why);
    g_assert_null(m.roster);
    g_assert_cmpint(m.n_slots, ==, 0);
    g_assert_cmpuint(m.n_ice_servers, ==, 0);
    g_free(why);
  }
}

/* The device API's answer: an open meeting with its link, none, and refusals. */
static void test_device_status(void) {
  const char *open = "{\"point\":{\"id\":2,\"name\":\"Xã Ân Sơn\",\"link_profile\":\"highland\"},\"now\":100,"
                     "\"meeting\":{\"id\":1,\"title\":\"Giao ban\",\"starts_at\":90,\"ends_at\":200},"
                     "\"join_link\":\"https://b/join?meeting=1&token=t\",\"next\":{\"id\":3,\"title\":\"Chiều\",\"starts_at\":500}}";
  dc_device_status st;
  char *why = NULL;
  g_assert_true(dc_protocol_parse_device_status(open, strlen(open), &st, &why));
  g_assert_cmpint(st.point_id, ==, 2);
  g_assert_cmpint(st.meeting_id, ==, 1);
  g_assert_cmpstr(st.join_link, ==, "https://b/join?meeting=1&token=t");
  g_assert_cmpint(st.next_id, ==, 3);
  g_assert_cmpint(st.next_starts_at, ==, 500);
  dc_device_status_clear(&st);
  const char *none = "{\"point\":{\"id\":2,\"name\":\"x\",\"link_profile\":\"standard\"},\"now\":1,\"meeting\":null,\"next\":null}";
  g_assert_true(dc_protocol_parse_device_status(none, strlen(none), &st, &why));
  g_assert_cmpint(st.meeting_id, ==, 0);
  g_assert_null(st.join_link);
  dc_device_status_clear(&st);
  const char *bad[] = {"{}", "[]", "{\"point\":null,\"now\":1}",
                       "{\"point\":{\"id\":2,\"name\":\"x\",\"link_profile\":\"s\"},\"now\":1,\"meeting\":{\"id\":1,\"title\":\"t\",\"starts_at\":1,\"ends_at\":2}}",
                       "{\"point\":{\"id\":2,\"name\":\"x\",\"link_profile\":\"s\"},\"now\":1,\"meeting\":7}"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(dc_protocol_parse_device_status(bad[i], strlen(bad[i]), &st, &why));
    g_assert_nonnull(why);
    g_assert_null(st.point_name);
    g_free(why);
    why = NULL;
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/protocol/messages", test_messages);
  g_test_add_func("/protocol/bad-input", test_bad_input);
  g_test_add_func("/protocol/writers", test_writers);
  g_test_add_func("/protocol/client-side", test_client_side);
  g_test_add_func("/protocol/client-side-bad-input", test_client_side_bad_input);
  g_test_add_func("/protocol/joined-ice-servers", test_joined_ice_servers);
  g_test_add_func("/protocol/device-status", test_device_status);
  return g_test_run();
}
