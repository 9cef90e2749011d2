{{/*
The HCL configuration file rendered from the values. data_dir, server.listen, log.* and the
storage settings that have environment variables are set through the environment by the
Deployment (they win over this file); secrets never appear here.
*/}}
{{- define "tfmirror.hcl" -}}
# Rendered by the tfmirror Helm chart from its values; see config.example.hcl for every key.
# data_dir, server.listen, log and storage are set through TFM_* environment variables,
# secrets through a Secret.
{{- range $block := list "server" "database" "limits" "cache" "auth" "outbound" "registry" "worker" }}
{{- $body := index $.Values.config $block }}
{{- $oidc := and (eq $block "auth") $.Values.oidc.enabled }}
{{- if or $body $oidc }}

{{ $block }} {
{{- include "tfmirror.hclBody" (dict "map" $body "indent" 2) }}
{{- if $oidc }}

  oidc {
{{- include "tfmirror.hclBody" (dict "map" (omit $.Values.oidc "enabled" "clientSecret") "indent" 4) }}
  }
{{- end }}
}
{{- end }}
{{- end }}
{{- if eq .Values.storage.backend "s3" }}

storage {
  s3 {
    presign_ttl_seconds = {{ include "tfmirror.hclValue" .Values.storage.s3.presignTtlSeconds }}
    multipart_part_mib = {{ include "tfmirror.hclValue" .Values.storage.s3.multipartPartMib }}
    timeout_seconds = {{ include "tfmirror.hclValue" .Values.storage.s3.timeoutSeconds }}
  }
}
{{- end }}
{{- range $host, $upstream := .Values.upstreams }}
{{- if kindIs "map" $upstream }}

upstream {{ include "tfmirror.hclValue" $host }} {
{{- include "tfmirror.hclBody" (dict "map" $upstream "indent" 2) }}
}
{{- end }}
{{- end }}
{{- end }}
