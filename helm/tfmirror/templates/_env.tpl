{{/* The environment both containers share: paths, listen address, log, storage, secrets. */}}
{{- define "tfmirror.env" -}}
- name: TFM_CONFIG
  value: /etc/tfmirror/tfmirror.hcl
- name: TFM_DATA_DIR
  value: /data
- name: TFM_LISTEN
  value: {{ printf (ternary "[%s]:%v" "%s:%v" (contains ":" .Values.listenAddress)) .Values.listenAddress .Values.containerPort | quote }}
- name: TFM_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: TFM_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
{{- if .Values.offline }}
- name: TFM_OFFLINE
  value: "true"
{{- end }}
{{- if not .Values.config.server.publicUrl }}
{{- with .Values.ingress }}
{{- if and .enabled .tls }}
{{- with first (first .tls).hosts }}
- name: TFM_PUBLIC_URL
  value: {{ printf "https://%s/" . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
- name: TFM_STORAGE_BACKEND
  value: {{ .Values.storage.backend | quote }}
{{- if eq .Values.storage.backend "s3" }}
{{- with .Values.storage.s3 }}
- name: TFM_S3_BUCKET
  value: {{ .bucket | quote }}
- name: TFM_S3_REGION
  value: {{ .region | quote }}
{{- with .endpoint }}
- name: TFM_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: TFM_S3_PATH_STYLE
  value: {{ .pathStyle | toString | quote }}
{{- with .prefix }}
- name: TFM_S3_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: TFM_S3_REDIRECT_DOWNLOADS
  value: {{ .redirectDownloads | toString | quote }}
{{- end }}
{{- include "tfmirror.secretEnv" (dict "ctx" . "env" "TFM_S3_ACCESS_KEY_ID" "key" "s3-access-key-id") }}
{{- include "tfmirror.secretEnv" (dict "ctx" . "env" "TFM_S3_SECRET_ACCESS_KEY" "key" "s3-secret-access-key") }}
{{- end }}
{{- include "tfmirror.secretEnv" (dict "ctx" . "env" "TFM_JWT_SECRET" "key" "jwt-secret") }}
{{- if include "tfmirror.postgres" . }}
{{- include "tfmirror.secretEnv" (dict "ctx" . "env" "TFM_DATABASE_URL" "key" "database-url" "required" true) }}
{{- end }}
{{- if .Values.oidc.enabled }}
{{- include "tfmirror.secretEnv" (dict "ctx" . "env" "TFM_OIDC_CLIENT_SECRET" "key" "oidc-client-secret") }}
{{- end }}
{{- end }}

{{- define "tfmirror.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: /etc/tfmirror
  readOnly: true
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}
