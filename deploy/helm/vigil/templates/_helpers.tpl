{{/* The chart's name, and the release's full name (63 characters at most, a DNS label). */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: <fullname>-<component>. */}}
{{- define "vigil.componentName" -}}
{{- printf "%s-%s" (include "vigil.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vigil
{{- end -}}

{{/* Selector labels of one component (a role, central, collector): { root, component }. */}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vigil.componentLabels" -}}
{{ include "vigil.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vigil.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret every pod takes its environment from, or nothing. */}}
{{- define "vigil.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.create -}}
{{- include "vigil.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Roles that run in their own Deployment: the enabled ones, less those the central node runs. */}}
{{- define "vigil.deployedRoles" -}}
{{- $out := list -}}
{{- range $role := list "ingest" "rules" "notifier" "query-api" -}}
{{- $spec := index $.Values.roles $role -}}
{{- if and $spec.enabled (not (and $.Values.central.enabled (has $role $.Values.central.roles))) -}}
{{- $out = append $out $role -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The config file of the role Deployments and the central node. The chart's keys win over
.Values.config: addresses and paths must match the pods. `embedded`: no ClickHouse server.
*/}}
{{- define "vigil.config" -}}
{{- $root := .root -}}
{{- $chart := dict "dataDir" "/var/lib/vigil" "http" (dict "host" "0.0.0.0" "port" 8080) "kafka" (dict "brokers" $root.Values.kafka.brokers "partitions" (int $root.Values.kafka.partitions)) -}}
{{- if not .embedded -}}
{{- $_ := set $chart "clickhouse" (dict "url" $root.Values.clickhouse.url "username" $root.Values.clickhouse.username) -}}
{{- end -}}
{{- $config := mustMergeOverwrite (deepCopy (default dict $root.Values.config)) $chart -}}
{{- if .embedded -}}
{{- $ch := default dict $config.clickhouse -}}
{{- $_ := unset $ch "url" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The collector DaemonSet's config file. */}}
{{- define "vigil.collectorConfig" -}}
{{- $c := .Values.collector -}}
{{- $plugins := list -}}
{{- if $c.hostMetrics -}}
{{- $plugins = append $plugins (dict "type" "host" "procfs" "/host/proc" "rootfs" "/host/root") -}}
{{- end -}}
{{- if $c.logs.enabled -}}
{{- $plugins = append $plugins (dict "type" "file" "name" "pod-logs" "include" $c.logs.include "exclude" $c.logs.exclude "startAt" $c.logs.startAt) -}}
{{- end -}}
{{- if $c.otlp.enabled -}}
{{- $plugins = append $plugins (dict "type" "otlp" "listen" (printf "0.0.0.0:%d" (int $c.otlp.port))) -}}
{{- end -}}
{{- $labels := mustMergeOverwrite (deepCopy (default dict $c.labels)) (dict "host.name" "${NODE_NAME}" "k8s.node.name" "${NODE_NAME}") -}}
{{- $collector := dict "labels" $labels "host" (dict "enabled" false) "plugins" $plugins -}}
{{- $chart := dict "dataDir" "/var/lib/vigil" "http" (dict "host" "0.0.0.0" "port" 8080) "kafka" (dict "brokers" .Values.kafka.brokers "partitions" (int .Values.kafka.partitions)) "collector" $collector -}}
{{- $base := dict "log" (default dict .Values.config.log) -}}
{{- if .Values.config.http -}}
{{- $_ := set $base "http" (deepCopy .Values.config.http) -}}
{{- end -}}
{{- $config := mustMergeOverwrite $base $chart (dict "collector" (default dict $c.config)) -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Every Vigil container's environment from the Secret (secrets only from the environment). */}}
{{- define "vigil.envFrom" -}}
{{- $secret := include "vigil.secretName" . -}}
{{- if $secret }}
envFrom:
  - secretRef:
      name: {{ $secret }}
{{- end }}
{{- end -}}

{{- define "vigil.probes" -}}
livenessProbe:
  httpGet:
    path: /health/live
    port: http
  initialDelaySeconds: {{ .probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /health
    port: http
  initialDelaySeconds: {{ .probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .probes.readiness.failureThreshold }}
{{- end -}}

{{/*
A PodDisruptionBudget's policy: { pdb, where }. minAvailable or maxUnavailable; neither means
maxUnavailable 1. Values merge with the chart's defaults, so switching policy means setting the
other one to null.
*/}}
{{- define "vigil.pdbPolicy" -}}
{{- $min := index .pdb "minAvailable" -}}
{{- $max := index .pdb "maxUnavailable" -}}
{{- if and (not (kindIs "invalid" $min)) (not (kindIs "invalid" $max)) -}}
{{- fail (printf "%s: minAvailable and maxUnavailable are both set; keep one and set the other to null (values merge with the chart's defaults)" .where) -}}
{{- else if not (kindIs "invalid" $min) -}}
minAvailable: {{ $min }}
{{- else -}}
maxUnavailable: {{ default 1 $max }}
{{- end -}}
{{- end -}}
