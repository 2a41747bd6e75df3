#include "flows.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "clock.h"

#define AC "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PN "PN15005550006000000000000000000000"
#define NUMBER "+15005550006"
#define DEMO "https://demo.twilio.com/welcome/sms/reply"
#define SMS_HOOK "https://hooks.example.com/twilio/sms"
#define EVENTS_HOOK "https://hooks.example.com/twilio/events"
#define INBOUND "com.twilio.messaging.inbound-message.received"
#define SINK "DG00000000000000000000000000000001" /* the account's SIDs: a count */
#define SUB "DF00000000000000000000000000000002"
#define OK(to) "{\"callback\":\"success\",\"contextWrites\":{\"to\":" to "}}"

static char called[64][64];
static size_t n_called;

static long long now_s(void)
{
    return 1795426200LL;
}

int flows_start(struct harness *h, struct config *cfg, struct harness *t, struct account **a,
                const char *prism)
{
    char err[256];
    cfg->now_s = now_s;
    snprintf(cfg->cursor_secret, sizeof cfg->cursor_secret, "%s", "flows-cursor-secret");
    if (harness_start_with(h, cfg) < 0 || account_harness_start(t, a, prism) < 0)
        return -1;
    if (campaign_start(cfg, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "%s\n", err);
    return -1;
}

void flows_stop(struct harness *h, struct harness *t, struct account *a)
{
    campaign_stop();
    account_harness_stop_with(t, a, h);
}

const struct flows_poll flows_polls[5] = {
    {"pollMessages", "messages", FLOWS_ACCOUNT "/Messages.json?PageSize=1",
     "AgAAAABrBAeYACKlI2dS9U9-lNsibdYqQvQ"},
    {"pollCalls", "calls", FLOWS_ACCOUNT "/Calls.json?PageSize=1",
     "AgAAAABrBAeYADH8Ydz6_3lE5WGeNYWp0vg"},
    {"pollRecordings", "recordings", FLOWS_ACCOUNT "/Recordings.json?PageSize=1",
     "AgAAAABrBAeYAGvufovbxZP9FVQcD2Kntlc"},
    {"pollTranscriptions", "transcriptions", FLOWS_ACCOUNT "/Transcriptions.json?PageSize=1",
     "AgAAAABrBAeYAI5ESpn8DzZXstBwsxCFlZ0"},
    {"pollIncomingPhoneNumbers", "incoming_phone_numbers",
     FLOWS_ACCOUNT "/IncomingPhoneNumbers.json?PageSize=1", "AgAAAABrBAeYAM3BBSwk7_iQH5eo2BAjmRw"},
};

void flows_poll(struct harness *h, const struct flows_poll *p)
{
    char want[256];
    snprintf(want, sizeof want, OK("{\"items\":[],\"cursor\":\"%s\",\"more\":false}"), p->cursor);
    flows_expect(h, p->block, "{" FLOWS_CREDS "}", want);
}

static void mark(const char *block)
{
    size_t i = 0;
    while (i < n_called && strcmp(called[i], block) != 0)
        i++;
    if (i == n_called && n_called < sizeof called / sizeof called[0])
        snprintf(called[n_called++], sizeof called[0], "%s", block);
}

void flows_expect(struct harness *h, const char *block, const char *json, const char *want)
{
    mark(block);
    harness_expect(h, block, json, want);
}

void flows_all_called(const struct block_set *set)
{
    int missing = 0;
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        size_t k = 0;
        while (k < n_called && strcmp(called[k], b->name) != 0)
            k++;
        if (b->flow_kind && k == n_called) {
            print_error("flow block %s (flow kind %s) was never called\n", b->name, b->flow_kind);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

void flows_triggers(struct harness *h, struct account *a)
{
    account_reset(a);
    account_add(a, "numbers",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "sid", PN, "phone_number", NUMBER,
                          "sms_url", DEMO, "sms_method", "POST", "voice_url", "", "voice_method",
                          "POST"));
    account_add(a, "types",
                json_pack("{s:s, s:s, s:s}", "type", INBOUND, "schema_id",
                          "Messaging.InboundMessageV1", "description", "An inbound message"));
    const char *number =
        "{" FLOWS_CREDS ",\"phoneNumber\":\"" NUMBER "\",\"event\":\"incomingMessage\","
        "\"webhookUrl\":\"" SMS_HOOK "\"}";
    flows_expect(h, "subscribeWebhook", number,
                 OK("{\"phoneNumberSid\":\"" PN "\",\"phoneNumber\":\"" NUMBER "\",\"event\":"
                    "\"incomingMessage\",\"webhookUrl\":\"" SMS_HOOK "\",\"method\":\"POST\","
                    "\"changed\":true,\"previous\":{\"url\":\"" DEMO "\",\"method\":\"POST\"}}"));
    flows_expect(h, "unsubscribeWebhook", number,
                 OK("{\"phoneNumberSid\":\"" PN "\",\"phoneNumber\":\"" NUMBER "\",\"event\":"
                    "\"incomingMessage\",\"webhookUrl\":\"" SMS_HOOK "\",\"changed\":true,"
                    "\"now\":{\"url\":\"\",\"method\":\"POST\"}}"));
    flows_expect(h, "listEventTypes", "{" FLOWS_CREDS "}",
                 OK("{\"types\":[{\"type\":\"" INBOUND "\",\"schema_id\":"
                    "\"Messaging.InboundMessageV1\",\"description\":\"An inbound message\"}],"
                    "\"count\":1}"));
    flows_expect(h, "subscribeEvents",
                 "{" FLOWS_CREDS ",\"webhookUrl\":\"" EVENTS_HOOK "\",\"types\":[\"" INBOUND "\"]}",
                 OK("{\"sinkSid\":\"" SINK "\",\"subscriptionSid\":\"" SUB
                    "\",\"types\":[\"" INBOUND "\"],\"added\":[\"" INBOUND
                    "\"],\"created\":{\"sink\":true,"
                    "\"subscription\":true}}"));
    flows_expect(h, "unsubscribeEvents", "{" FLOWS_CREDS ",\"webhookUrl\":\"" EVENTS_HOOK "\"}",
                 OK("{\"webhookUrl\":\"" EVENTS_HOOK "\",\"deleted\":{\"sinks\":[\"" SINK
                    "\"],\"subscriptions\":[\"" SUB "\"]}}"));
}

/* s with every date-time (2026-12-07T05:48:53Z) written <date> and the campaign id written
 * <id>, malloc'd. */
static char *masked(const char *s, const char *id)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t n = strlen(s), w = 0, idlen = strlen(id);
    char *out = malloc(n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        while (k < sizeof shape - 1 && i + k < n &&
               (shape[k] == 'd' ? isdigit((unsigned char)s[i + k]) : s[i + k] == shape[k]))
            k++;
        if (k == sizeof shape - 1) {
            memcpy(out + w, "<date>", 6);
            w += 6;
            i += k;
        } else if (idlen >= 4 && strncmp(s + i, id, idlen) == 0) {
            memcpy(out + w, "<id>", 4);
            w += 4;
            i += idlen;
        } else {
            out[w++] = s[i++];
        }
    }
    out[w] = '\0';
    return out;
}

/* Calls block with {creds, "campaignId": id, more}: the test fails unless the answer, masked,
 * is want (unless NULL). Returns the masked answer. */
static char *campaign_call(struct harness *h, const char *block, const char *id, const char *more,
                           const char *want)
{
    char json[1024];
    snprintf(json, sizeof json, "{" FLOWS_CREDS ",\"campaignId\":\"%s\"%s}", id, more);
    mark(block);
    char *got = harness_call(h, block, json);
    char *m = masked(got, id);
    free(got);
    if (want)
        assert_string_equal(m, want);
    return m;
}

/* createCampaign: the new campaign's id, into id. */
static void create(struct harness *h, const char *more, char id[35])
{
    char json[1024];
    snprintf(json, sizeof json,
             "{" FLOWS_CREDS ",\"messagingServiceSid\":\"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
             "\"body\":\"Hi {{name}}\",\"mps\":1%s}",
             more);
    mark("createCampaign");
    char *got = harness_call(h, "createCampaign", json);
    const char *at = strstr(got, "\"campaignId\":\"CP");
    if (!at)
        fail_msg("createCampaign: %s", got);
    snprintf(id, 35, "%s", at + 14);
    char *m = masked(got, id);
    assert_string_equal(m,
                        OK("{\"campaignId\":\"<id>\",\"status\":\"draft\",\"total\":0,\"mps\":1}"));
    free(m);
    free(got);
}

#define STORE                                                                                      \
    "\"store\":\"memory\",\"storeNote\":\"Kept in this process's memory (no REDIS_URL): one "      \
    "replica only, lost when the service restarts.\""

/* getCampaign's answer, masked, for a campaign of total recipients, pending and sent. */
#define CAMPAIGN(status, pending, sent, total, started, ended, eta)                                \
    OK("{\"campaignId\":\"<id>\",\"status\":\"" status "\",\"total\":" #total                      \
       ",\"counts\":{\"pending\":" #pending ",\"sent\":" #sent                                     \
       ",\"failed\":0,\"skipped\":0,\"maybeSent\":0,\"cancelled\":0},\"mps\":1,\"createdAt\":"     \
       "\"<date>\",\"startedAt\":" started ",\"endedAt\":" ended ",\"etaSeconds\":" #eta "," STORE \
       "}")
#define PENDING(to)                                                                                \
    "{\"to\":\"" to "\",\"status\":\"pending\",\"messageSid\":null,\"errorCode\":null,"            \
    "\"errorMessage\":null}"

void flows_campaigns(struct harness *h)
{
    char id[35], other[35];
    create(h, "", id);
    free(
        campaign_call(h, "addCampaignRecipients", id,
                      ",\"recipients\":[{\"to\":\"+14155552673\",\"variables\":{\"name\":\"Ben\"}},"
                      "{\"to\":\"+14155552674\",\"variables\":{\"name\":\"Cy\"}},{\"to\":\"+"
                      "14155552675\",\"variables\":{\"name\":\"Dev\"}}]",
                      OK("{\"added\":3,\"duplicates\":0,\"invalid\":[],\"total\":3}")));
    free(campaign_call(h, "getCampaign", id, "", CAMPAIGN("draft", 3, 0, 3, "null", "null", 3)));
    free(campaign_call(
        h, "listCampaignRecipients", id, "",
        OK("{\"items\":[" PENDING("+14155552673") "," PENDING("+14155552674") "," PENDING(
            "+14155552675") "],\"cursor\":null,\"more\":false}")));
    /* three at one a second: still running while it is paused and resumed */
    free(campaign_call(h, "startCampaign", id, "",
                       OK("{\"campaignId\":\"<id>\",\"status\":\"running\"}")));
    free(campaign_call(h, "pauseCampaign", id, "",
                       OK("{\"campaignId\":\"<id>\",\"status\":\"paused\"}")));
    free(campaign_call(h, "resumeCampaign", id, "",
                       OK("{\"campaignId\":\"<id>\",\"status\":\"running\"}")));
    char *got = NULL;
    for (int i = 0; i < 600; i++) { /* a bound only a hang reaches */
        free(got);
        got = campaign_call(h, "getCampaign", id, "", NULL);
        if (!strstr(got, "\"status\":\"running\""))
            break;
        clock_sleep_ms(100);
    }
    assert_string_equal(got, CAMPAIGN("completed", 0, 3, 3, "\"<date>\"", "\"<date>\"", 0));
    free(got);
    create(h, "", other);
    free(campaign_call(h, "cancelCampaign", other, "",
                       OK("{\"campaignId\":\"<id>\",\"status\":\"cancelled\"}")));
}
