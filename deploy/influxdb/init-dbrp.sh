#!/bin/sh
# Runs once, after the InfluxDB 2.x container's initial setup: map the bucket to an
# InfluxQL database/retention policy so Grafana's InfluxQL datasource can query it.
set -eu
bucket_id=$(influx bucket list --name "${DOCKER_INFLUXDB_INIT_BUCKET}" --hide-headers | cut -f1)
influx v1 dbrp create --db "${DOCKER_INFLUXDB_INIT_BUCKET}" --rp autogen \
  --bucket-id "${bucket_id}" --default
