/* Load publisher for the MQTT ingestion benchmark: N SenML packs of ~150 bytes, as fast as
 * libmosquitto sends them, at QoS 0 or 1, over TLS with a sensor's client certificate.
 * Usage: load_pub HOST PORT CAFILE CERT KEY TOPIC COUNT QOS [RATE [RECORDS]]; RATE paces the sends
 * (messages per second, 0 or absent: as fast as possible); RECORDS readings per pack (default 1:
 * one record padded to 150 bytes; more: the first record plus RECORDS-1 more, 100 µs apart).
 * Prints the send rate (and, at QoS 1, how many packs the broker acknowledged). */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int acked = 0;
static void on_publish(struct mosquitto *m, void *u, int mid) { (void)m; (void)u; (void)mid; acked++; }

static double now(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc < 9) { fprintf(stderr, "usage: %s HOST PORT CAFILE CERT KEY TOPIC COUNT QOS [RATE [RECORDS]]\n", argv[0]); return 2; }
    int count = atoi(argv[7]), qos = atoi(argv[8]);
    double rate = argc > 9 ? atof(argv[9]) : 0;
    int records = argc > 10 ? atoi(argv[10]) : 1;
    if (records < 1 || records > 100) { fprintf(stderr, "RECORDS must be 1..100\n"); return 2; }
    mosquitto_lib_init();
    char id[64];  /* Agora's broker takes only ids that begin with "client:" */
    snprintf(id, sizeof id, "client:load-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    mosquitto_tls_set(m, argv[3], NULL, argv[4], argv[5], NULL);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, argv[1], atoi(argv[2]), 60)) { fprintf(stderr, "connect failed\n"); return 1; }
    mosquitto_loop_start(m);
    double start = now();
    char payload[8192];
    for (int i = 0; i < count; i++) {
        if (rate > 0) {
            double due = start + i / rate, wait = due - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        /* bt = publish time: the ingester's store time minus this is publish-to-durable latency. */
        int n = snprintf(payload, sizeof payload,
                         "[{\"bn\":\"bench:\",\"bt\":%.6f,\"n\":\"pm25\",\"u\":\"ug/m3\",\"v\":%d.25,\"s\":%d}]",
                         now(), i % 1000, i);
        for (int r = 1; r < records; r++) /* the closing ] is rewritten: one more record, 100 µs later */
            n += snprintf(payload + n - 1, sizeof payload - n + 1, ",{\"n\":\"pm25\",\"t\":%.4f,\"v\":%d.5}]",
                          r * 1e-4, (i + r) % 1000) - 1;
        while (n < 150) payload[n++] = ' ';
        payload[n] = 0;
        while (mosquitto_publish(m, NULL, argv[6], n, payload, qos, false) == MOSQ_ERR_NOMEM) usleep(100);
    }
    while (qos > 0 && acked < count) usleep(1000);
    if (qos == 0) usleep(200000);
    double elapsed = now() - start;
    if (records == 1) printf("published %d at QoS %d in %.3f s: %.0f msgs/s\n", count, qos, elapsed, count / elapsed);
    else printf("published %d at QoS %d in %.3f s: %.0f msgs/s (%d readings each, %lld readings)\n", count, qos, elapsed,
                count / elapsed, records, (long long)count * records);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    return 0;
}
