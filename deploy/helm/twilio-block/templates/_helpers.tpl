{{- define "twilio-block.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "twilio-block.fullname" -}}
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

{{- define "twilio-block.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "twilio-block.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "twilio-block.selectorLabels" -}}
app.kubernetes.io/name: {{ include "twilio-block.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "twilio-block.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "twilio-block.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "twilio-block.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "twilio-block.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the chart makes for REDIS_URL, PROXY_SECRET and CURSOR_SECRET. */}}
{{- define "twilio-block.secretName" -}}
{{- printf "%s-env" (include "twilio-block.fullname" .) }}
{{- end }}

{{/* "true" when the chart's own Secret holds REDIS_URL. */}}
{{- define "twilio-block.proxySecretInChartSecret" -}}
{{- if and (not .Values.proxySecret.existingSecret) .Values.proxySecret.value }}true{{ end }}
{{- end }}

{{/* The bundled Redis's password: given, or the one already in the cluster, or a new one. */}}
{{- define "twilio-block.redisPassword" -}}
{{- if .Values.redis.password }}
{{- .Values.redis.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-redis" (include "twilio-block.fullname" .)) }}
{{- if and $existing $existing.data (index $existing.data "redis-password") }}
{{- index $existing.data "redis-password" | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Seconds the pod needs to stop: the pre-stop pause, the service's drain, a margin. */}}
{{- define "twilio-block.terminationGrace" -}}
{{- $graceMs := int (default "20000" (toString (default "" .Values.config.SHUTDOWN_GRACE_MS))) }}
{{- add (int .Values.preStopSleepSeconds) (div (add $graceMs 999) 1000) (int .Values.terminationGraceMarginSeconds) }}
{{- end }}

{{- define "twilio-block.replicasAbove1" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.minReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{- define "twilio-block.redisLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "twilio-block.redisSelectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
