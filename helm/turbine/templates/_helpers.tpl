{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "turbine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name when it already contains the chart name, else release-chart.
Also the Deployment, Service, ConfigMap and lease prefix the sidecar is told about.
*/}}
{{- define "turbine.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "turbine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels on every object. */}}
{{- define "turbine.labels" -}}
helm.sh/chart: {{ include "turbine.chart" . }}
app.kubernetes.io/name: {{ include "turbine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: turbine
{{- end }}

{{/*
Selects the engine pods. The component label keeps other pods of the release (the helm test
pod) out of the Service and so out of the sidecar's EndpointSlice view.
*/}}
{{- define "turbine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "turbine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: engine
{{- end }}

{{- define "turbine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "turbine.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "turbine.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "turbine.autoscalerImage" -}}
{{- $repo := .Values.autoscaler.image.repository | default .Values.image.repository }}
{{- $tag := .Values.autoscaler.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{- define "turbine.modelPath" -}}
{{- printf "/models/%s" .Values.model.file }}
{{- end }}

{{- define "turbine.apiKeySecretName" -}}
{{- .Values.apiKey.existingSecret | default (printf "%s-api-keys" (include "turbine.fullname" .)) }}
{{- end }}

{{- define "turbine.device" -}}
{{- if .Values.engine.device }}
{{- .Values.engine.device }}
{{- else if gt (int .Values.gpu.count) 0 }}
{{- "cuda" }}
{{- else }}
{{- "cpu" }}
{{- end }}
{{- end }}

{{/* Longer than preStop sleep + drain, so the kubelet never cuts a drain short. */}}
{{- define "turbine.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add .Values.engine.preStopSleepSeconds .Values.engine.drainTimeoutSeconds 15 }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* The engine port probes and scrapes go to: the admin port when there is one. */}}
{{- define "turbine.scrapePort" -}}
{{- if gt (int .Values.engine.adminPort) 0 }}{{ int .Values.engine.adminPort }}{{ else }}{{ int .Values.engine.port }}{{ end }}
{{- end }}

{{/* The named container port probes and scrapes go to. */}}
{{- define "turbine.scrapePortName" -}}
{{- if gt (int .Values.engine.adminPort) 0 }}admin{{ else }}http{{ end }}
{{- end }}

{{/* /etc/turbine/engine.yaml */}}
{{- define "turbine.engineConfig" -}}
{{- $cfg := dict "model" (include "turbine.modelPath" .) "host" "0.0.0.0" "port" (int .Values.engine.port) "device" (include "turbine.device" .) "drain-timeout" .Values.engine.drainTimeoutSeconds }}
{{- if gt (int .Values.engine.adminPort) 0 }}
{{- $_ := set $cfg "admin-port" (int .Values.engine.adminPort) }}
{{- end }}
{{- if .Values.model.servedModelName }}
{{- $_ := set $cfg "served-model-name" .Values.model.servedModelName }}
{{- end }}
{{- /* On the CPU backend the engine would start one thread per core of the node; size the
       pool by the pod's CPU request instead, unless engine.config.threads says otherwise. */}}
{{- $cpu := toString (dig "requests" "cpu" "" (.Values.engine.resources | default dict)) }}
{{- if and $cpu (eq (get $cfg "device") "cpu") (not (hasKey .Values.engine.config "threads")) }}
{{- $n := 1 }}
{{- if hasSuffix "m" $cpu }}
{{- $n = div (atoi (trimSuffix "m" $cpu)) 1000 }}
{{- else }}
{{- $n = int (floor (float64 $cpu)) }}
{{- end }}
{{- $_ := set $cfg "threads" (max 1 $n) }}
{{- end }}
{{- toYaml (merge $cfg (deepCopy .Values.engine.config)) }}
{{- end }}

{{/* /etc/turbine/autoscaler.yaml */}}
{{- define "turbine.autoscalerConfig" -}}
{{- $fullname := include "turbine.fullname" . }}
{{- $cfg := dict "namespace" .Release.Namespace "deployment" $fullname "service" $fullname "metrics-port" (include "turbine.scrapePort" . | int) "lease-name" (printf "%s-autoscaler" $fullname) "listen" (printf "0.0.0.0:%d" (int .Values.autoscaler.port)) "min-replicas" (int .Values.autoscaler.minReplicas) "max-replicas" (int .Values.autoscaler.maxReplicas) "dry-run" .Values.autoscaler.dryRun }}
{{- /* On GPUs the KV pool is preallocated, so device memory pressure shows as free memory
     below a floor: 1 GiB unless autoscaler.config sets kv-free-floor-bytes. */}}
{{- if and (gt (int .Values.gpu.count) 0) (not (hasKey .Values.autoscaler.config "kv-free-floor-bytes")) }}
{{- $_ := set $cfg "kv-free-floor-bytes" 1073741824 }}
{{- end }}
{{- /* The capacity model counts an engine's sequence slots: the engine's max-running. */}}
{{- if and (hasKey .Values.engine.config "max-running") (not (hasKey .Values.autoscaler.config "max-running")) }}
{{- $_ := set $cfg "max-running" (int (index .Values.engine.config "max-running")) }}
{{- end }}
{{- toYaml (merge $cfg (deepCopy .Values.autoscaler.config)) }}
{{- end }}
