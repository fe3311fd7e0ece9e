#!/usr/bin/env bash
# render-task-definition.sh FAMILY IMAGE VERSION
# Prints a register-task-definition input (JSON) made from the newest ACTIVE revision of FAMILY with
# the app container's image replaced by IMAGE, and DD_VERSION, com.datadoghq.tags.version and the
# version: entry of the FireLens log tags (logConfiguration.options.dd_tags) set to VERSION in every
# container that has them. Everything else (environment, sizes, roles, sidecars) comes from that
# revision, which is how Terraform-side changes to a task definition reach the next deploy.
# Uses: aws ecs describe-task-definition (the CI deploy role allows it), jq.
set -euo pipefail
family=$1 image=$2 version=$3

aws ecs describe-task-definition --task-definition "$family" --query taskDefinition --output json |
  jq --arg image "$image" --arg version "$version" '
    del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
        .registeredAt, .registeredBy, .deregisteredAt)
    | .containerDefinitions |= map(
        (if .name == "app" then .image = $image else . end)
        | .environment = ((.environment // []) | map(if .name == "DD_VERSION" then .value = $version else . end))
        | (if (.dockerLabels // {}) | has("com.datadoghq.tags.version")
           then .dockerLabels["com.datadoghq.tags.version"] = $version else . end)
        | (if (.logConfiguration.options // {}) | has("dd_tags")
           then .logConfiguration.options.dd_tags |= ([split(",")[] | select(startswith("version:") | not)] + ["version:" + $version] | join(","))
           else . end))'
