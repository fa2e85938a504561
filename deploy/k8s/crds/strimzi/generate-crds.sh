#!/bin/sh
# Regenerates the Strimzi CRDs in this folder with Strimzi's own generator (see README.md).
# Needs Maven and Java 21+ (crd-generator 1.2.0 is Java 21 bytecode); JAVA_HOME picks it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -B -q -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file"
"$java" -cp "$(cat "$cp_file")" io.strimzi.crdgenerator.CrdGenerator \
  --yaml --crd-api-version v1 --api-versions v1 --storage-version v1 \
  io.strimzi.api.kafka.model.kafka.Kafka="$here/kafka.yaml" \
  io.strimzi.api.kafka.model.topic.KafkaTopic="$here/kafkatopic.yaml" \
  io.strimzi.api.kafka.model.user.KafkaUser="$here/kafkauser.yaml" \
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$here/kafkanodepool.yaml"
