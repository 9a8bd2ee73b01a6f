#!/bin/sh
# Registers the namespace the platform uses, once the frontend answers
# (the temporalio/server image no longer does it by itself).
set -eu
ns=${TEMPORAL_NAMESPACE:-default}
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention 7d
