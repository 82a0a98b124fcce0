{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "zstack-clone-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "zstack-clone-bot.fullname" -}}
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

{{- define "zstack-clone-bot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "zstack-clone-bot.labels" -}}
helm.sh/chart: {{ include "zstack-clone-bot.chart" . }}
{{ include "zstack-clone-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the bot's pods (Deployment, Service, PDB, ServiceMonitor). */}}
{{- define "zstack-clone-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zstack-clone-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bot
{{- end }}

{{- define "zstack-clone-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zstack-clone-bot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zstack-clone-bot.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret with the Slack credentials and the session key. */}}
{{- define "zstack-clone-bot.credentialsSecret" -}}
{{- .Values.secrets.existingSecret | default (include "zstack-clone-bot.fullname" .) }}
{{- end }}

{{/*
REDIS_URL built from values: redis.url as given, or a redis+sentinel:// URL
(redis+sentinel://[user:password@]host1:26379,host2:26379/master/db[?sentinel_password=...]).
Empty when neither is set (REDIS_URL then comes from secrets.existingSecret, or is unset).
*/}}
{{- define "zstack-clone-bot.redisUrl" -}}
{{- $r := .Values.redis }}
{{- $sources := 0 }}
{{- if $r.url }}{{ $sources = add1 $sources }}{{ end }}
{{- if $r.sentinel.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if $r.existingSecretKey }}{{ $sources = add1 $sources }}{{ end }}
{{- if gt $sources 1 }}
{{- fail "redis: set only one of redis.url, redis.sentinel.enabled, redis.existingSecretKey" }}
{{- end }}
{{- if $r.sentinel.enabled }}
{{- if not $r.sentinel.hosts }}
{{- fail "redis.sentinel.hosts: at least one sentinel host:port is required" }}
{{- end }}
{{- if not $r.sentinel.masterName }}
{{- fail "redis.sentinel.masterName is required" }}
{{- end }}
{{- $auth := "" }}
{{- if $r.sentinel.password }}
{{- $auth = printf "%s:%s@" (urlquery ($r.sentinel.username | default "") | replace "+" "%20") (urlquery $r.sentinel.password | replace "+" "%20") }}
{{- else if $r.sentinel.username }}
{{- $auth = printf "%s@" (urlquery $r.sentinel.username | replace "+" "%20") }}
{{- end }}
{{- $scheme := ternary "rediss+sentinel" "redis+sentinel" (eq (toString $r.sentinel.tls) "true") }}
{{- $url := printf "%s://%s%s/%s/%d" $scheme $auth (join "," $r.sentinel.hosts) $r.sentinel.masterName (int $r.sentinel.db) }}
{{- if $r.sentinel.sentinelPassword }}
{{- $url = printf "%s?sentinel_password=%s" $url (urlquery $r.sentinel.sentinelPassword | replace "+" "%20") }}
{{- end }}
{{- $url }}
{{- else if $r.url }}
{{- $r.url }}
{{- end }}
{{- end }}

{{/*
CLONEBOT_SESSION_KEY for the chart's Secret: the value given, else the one already in the
release's Secret (kept across upgrades), else a new Fernet key (sprig's randBytes gives the
base64 of 32 random bytes; Fernet wants the URL-safe alphabet).
*/}}
{{- define "zstack-clone-bot.sessionKey" -}}
{{- if .Values.secrets.sessionKey }}
{{- .Values.secrets.sessionKey }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "zstack-clone-bot.fullname" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "CLONEBOT_SESSION_KEY") }}
{{- index $existing.data "CLONEBOT_SESSION_KEY" | b64dec }}
{{- else }}
{{- randBytes 32 | replace "+" "-" | replace "/" "_" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Fail early on combinations that cannot work. */}}
{{- define "zstack-clone-bot.validate" -}}
{{- $redisUrl := include "zstack-clone-bot.redisUrl" . }}
{{- if and (gt (int .Values.replicaCount) 1) (not $redisUrl) (not (and .Values.secrets.existingSecret .Values.redis.existingSecretKey)) }}
{{- fail "replicaCount > 1 needs a shared Redis: set redis.url, redis.sentinel, or redis.existingSecretKey with secrets.existingSecret (the embedded Redis belongs to one pod)" }}
{{- end }}
{{- if and .Values.redis.existingSecretKey (not .Values.secrets.existingSecret) }}
{{- fail "redis.existingSecretKey needs secrets.existingSecret" }}
{{- end }}
{{- if not (has .Values.settings.logFormat (list "json" "console")) }}
{{- fail "settings.logFormat must be json or console" }}
{{- end }}
{{- end }}
