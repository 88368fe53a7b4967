#!/usr/bin/python3
"""Baseline (c): the typical hand-written ingester — paho-mqtt into SQLite (WAL, 1000-row
transactions). Usage: paho_sqlite.py HOST PORT CAFILE CERT KEY TOPIC COUNT QOS DB"""
import json, resource, sqlite3, ssl, sys, time
import paho.mqtt.client as mqtt

host, port, ca, cert, key, topic, count, qos, path = sys.argv[1:10]
count, qos = int(count), int(qos)
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS readings (sensor TEXT, name TEXT, time REAL, value REAL)")
pending, stored, first, latencies = [], 0, None, []

def flush():
    global pending, stored
    if pending:
        with db:
            db.executemany("INSERT INTO readings VALUES (?,?,?,?)", pending)
        done = time.time()
        latencies.extend(done - row[2] for row in pending)
        stored += len(pending)
        pending = []

def on_message(client, userdata, msg):
    global first
    if first is None:
        first = time.monotonic()
    for record in json.loads(msg.payload):
        pending.append((msg.topic.split("/")[2], record.get("bn", "") + record.get("n", ""), record["bt"], record.get("v")))
    if len(pending) >= 1000 or stored + len(pending) >= count:
        flush()
        if stored >= count:
            client.disconnect()

client = mqtt.Client(client_id="client:bench-paho", clean_session=True)
client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
client.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos)
client.on_message = on_message
client.connect(host, int(port), 60)
print("ready", flush=True)
client.loop_forever()
elapsed = time.monotonic() - first
usage = resource.getrusage(resource.RUSAGE_SELF)
latencies.sort()
print("paho_sqlite_qos%d %.0f msgs/s, %.2f cpu_us_per_msg, p99 publish-to-durable %.1f ms (%d rows)" % (
    qos, stored / elapsed, (usage.ru_utime + usage.ru_stime) * 1e6 / stored, latencies[int(len(latencies) * 0.99)] * 1000, stored))
