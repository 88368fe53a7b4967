/* Issue 21's publisher: COUNT one-reading SenML packs at RATE a second (0: as fast as the
 * broker takes them) over SENSORS sensors in turn (topic agora/sensors/s<k>/senml), QoS 1.
 * Each reading's time is the moment it is published, so a subscriber's arrival time minus
 * it is publish-to-delivery latency. It connects with the gateway's own certificate, which
 * the broker's ACL lets write every sensor's topic: one publisher stands for many sensors.
 * usage: live_pub HOST PORT CAFILE CERT KEY SENSORS COUNT RATE */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static volatile int acked = 0;
static void on_publish(struct mosquitto *m, void *u, int mid) { (void)m; (void)u; (void)mid; __sync_fetch_and_add(&acked, 1); }
static double now(void) { struct timeval tv; gettimeofday(&tv, NULL); return tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
    if (argc != 9) { fprintf(stderr, "usage: %s HOST PORT CAFILE CERT KEY SENSORS COUNT RATE\n", argv[0]); return 2; }
    int sensors = atoi(argv[6]), count = atoi(argv[7]);
    double rate = atof(argv[8]);
    mosquitto_lib_init();
    char id[64];  /* Agora's broker takes only ids that begin with "client:" */
    snprintf(id, sizeof id, "client:live-pub-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    mosquitto_tls_set(m, argv[3], NULL, argv[4], argv[5], NULL);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 1000);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, argv[1], atoi(argv[2]), 60)) { fprintf(stderr, "connect failed\n"); return 1; }
    mosquitto_loop_start(m);
    double start = now();
    char topic[128], payload[512];
    for (int i = 0; i < count; i++) {
        if (rate > 0) {
            double due = start + i / rate, wait = due - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        int k = i % sensors;
        snprintf(topic, sizeof topic, "agora/sensors/s%d/senml", k);
        int n = snprintf(payload, sizeof payload, "[{\"bn\":\"s%d:\",\"bt\":%.6f,\"n\":\"pm25\",\"u\":\"ug/m3\",\"v\":%d}]", k, now(), i);
        while (mosquitto_publish(m, NULL, topic, n, payload, 1, false) == MOSQ_ERR_NOMEM) usleep(100);
    }
    while (acked < count) usleep(1000);
    double elapsed = now() - start;
    printf("published %d readings over %d sensors in %.3f s: %.0f/s\n", count, sensors, elapsed, count / elapsed);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    return 0;
}
