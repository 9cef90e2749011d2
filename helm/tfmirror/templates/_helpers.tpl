{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "tfmirror.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless it contains it. */}}
{{- define "tfmirror.fullname" -}}
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

{{- define "tfmirror.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tfmirror.labels" -}}
helm.sh/chart: {{ include "tfmirror.chart" . }}
{{ include "tfmirror.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tfmirror.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tfmirror.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tfmirror.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tfmirror.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tfmirror.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret the secret env vars come from: existingSecret, or the chart's own. */}}
{{- define "tfmirror.secretName" -}}
{{- default (include "tfmirror.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The keys of the chart-managed Secret, as a dict key -> value (only the ones that are set).
Empty when existingSecret is used.
*/}}
{{- define "tfmirror.secretData" -}}
{{- $d := dict }}
{{- if not .Values.existingSecret }}
{{- with .Values.auth.jwtSecret }}{{ $_ := set $d "jwt-secret" . }}{{ end }}
{{- with .Values.database.url }}{{ $_ := set $d "database-url" . }}{{ end }}
{{- with .Values.storage.s3.accessKeyId }}{{ $_ := set $d "s3-access-key-id" . }}{{ end }}
{{- with .Values.storage.s3.secretAccessKey }}{{ $_ := set $d "s3-secret-access-key" . }}{{ end }}
{{- if .Values.adminBootstrap.enabled }}
{{- with .Values.adminBootstrap.password }}{{ $_ := set $d "admin-password" . }}{{ end }}
{{- end }}
{{- with .Values.metrics.token }}{{ $_ := set $d "metrics-token" . }}{{ end }}
{{- if .Values.oidc.enabled }}
{{- with .Values.oidc.clientSecret }}{{ $_ := set $d "oidc-client-secret" . }}{{ end }}
{{- end }}
{{- end }}
{{- toJson $d }}
{{- end }}

{{/*
An env entry for a secret key, or nothing. With existingSecret every key is referenced as
optional (a missing key leaves the variable unset); with the chart's Secret only the keys it
holds are referenced. Args: dict "ctx" . "env" NAME "key" KEY ("required" true: never optional).
*/}}
{{- define "tfmirror.secretEnv" -}}
{{- $ctx := .ctx }}
{{- $data := include "tfmirror.secretData" $ctx | fromJson }}
{{- if or $ctx.Values.existingSecret (hasKey $data .key) }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tfmirror.secretName" $ctx }}
      key: {{ .key }}
      {{- if and $ctx.Values.existingSecret (not .required) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/* Whether the metadata database is PostgreSQL (several replicas possible). */}}
{{- define "tfmirror.postgres" -}}
{{- if or .Values.database.url .Values.database.fromExistingSecret }}true{{ end }}
{{- end }}

{{/* Whether /metrics requires a bearer token (and the ServiceMonitor sends one). */}}
{{- define "tfmirror.metricsToken" -}}
{{- if or .Values.metrics.token (and .Values.existingSecret .Values.metrics.tokenFromExistingSecret) }}true{{ end }}
{{- end }}

{{/* An HCL value: strings, numbers, booleans and lists of them, as JSON (valid HCL), with
template sequences escaped so HCL never interpolates. */}}
{{- define "tfmirror.hclValue" -}}
{{- toJson . | replace "${" "$${" | replace "%{" "%%{" }}
{{- end }}

{{/* The body of an HCL block from a map of camelCase keys; args: dict "map" M "indent" N. */}}
{{- define "tfmirror.hclBody" -}}
{{- range $k, $v := .map }}
{{- if not (kindIs "invalid" $v) }}
{{ printf "%s = %s" (snakecase $k) (include "tfmirror.hclValue" $v) | indent $.indent }}
{{- end }}
{{- end }}
{{- end }}

{{/* Fails rendering on values the server would refuse or that break the one-writer rule. */}}
{{- define "tfmirror.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "tfmirror.postgres" .)) }}
{{- fail (printf "replicaCount is %v, but with SQLite tfmirror must run as a single replica: its database allows one writer and lives on a ReadWriteOnce volume (use 0 or 1, or set database.url to PostgreSQL for several replicas)" .Values.replicaCount) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.storage.backend "s3") }}
{{- fail (printf "replicaCount is %v, but several replicas need storage.backend s3: local storage is one pod's volume" .Values.replicaCount) }}
{{- end }}
{{- if and .Values.database.fromExistingSecret (not .Values.existingSecret) }}
{{- fail "database.fromExistingSecret needs existingSecret (the Secret holding key database-url)" }}
{{- end }}
{{- if and (eq .Values.storage.backend "s3") (not .Values.storage.s3.bucket) }}
{{- fail "storage.s3.bucket is required when storage.backend is s3" }}
{{- end }}
{{- if and .Values.auth.jwtSecret (lt (len .Values.auth.jwtSecret) 32) }}
{{- fail "auth.jwtSecret must be at least 32 bytes (or empty: the server then generates one on the data volume)" }}
{{- end }}
{{- if and .Values.adminBootstrap.enabled .Values.adminBootstrap.password (lt (len .Values.adminBootstrap.password) 12) }}
{{- fail "adminBootstrap.password must be at least 12 characters" }}
{{- end }}
{{- if and (not .Values.existingSecret) (ne (empty .Values.storage.s3.accessKeyId) (empty .Values.storage.s3.secretAccessKey)) }}
{{- fail "storage.s3.accessKeyId and storage.s3.secretAccessKey must be set together (or neither, for the AWS credential chain)" }}
{{- end }}
{{- if and .Values.existingSecret (or .Values.auth.jwtSecret .Values.storage.s3.accessKeyId .Values.storage.s3.secretAccessKey .Values.adminBootstrap.password .Values.metrics.token .Values.oidc.clientSecret) }}
{{- fail "existingSecret is set: leave auth.jwtSecret, storage.s3.accessKeyId/secretAccessKey, adminBootstrap.password, metrics.token and oidc.clientSecret empty and put them in that Secret" }}
{{- end }}
{{- if and .Values.oidc.enabled (or (not .Values.oidc.issuer) (not .Values.oidc.clientId)) }}
{{- fail "oidc.enabled needs oidc.issuer and oidc.clientId" }}
{{- end }}
{{- if and .Values.metrics.tokenFromExistingSecret (not .Values.existingSecret) }}
{{- fail "metrics.tokenFromExistingSecret needs existingSecret" }}
{{- end }}
{{- end }}
