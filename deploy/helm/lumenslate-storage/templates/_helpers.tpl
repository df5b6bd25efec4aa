{{/* Chart name, overridable. */}}
{{- define "lumenslate-storage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name: release-chart, or the release name when it already contains the chart name. */}}
{{- define "lumenslate-storage.fullname" -}}
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

{{- define "lumenslate-storage.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lumenslate-storage.labels" -}}
helm.sh/chart: {{ include "lumenslate-storage.chart" . }}
{{ include "lumenslate-storage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lumenslate-storage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lumenslate-storage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lumenslate-storage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lumenslate-storage.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lumenslate-storage.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The service's Secret (MinIO identity, DATABASE_URL): given, else <fullname>-env. */}}
{{- define "lumenslate-storage.secretName" -}}
{{- default (printf "%s-env" (include "lumenslate-storage.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* MinIO's root credentials, for the bootstrap job only: given, else <fullname>-minio-admin. */}}
{{- define "lumenslate-storage.adminSecretName" -}}
{{- default (printf "%s-minio-admin" (include "lumenslate-storage.fullname" .)) .Values.secrets.adminExistingSecret }}
{{- end }}

{{/* Volumes the service and the bootstrap job share: /tmp, the MinIO CA, TLS material. */}}
{{- define "lumenslate-storage.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.externalMinio.caSecret.name }}
- name: minio-ca
  secret:
    secretName: {{ .Values.externalMinio.caSecret.name }}
{{- end }}
{{- end }}

{{- define "lumenslate-storage.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.externalMinio.caSecret.name }}
- name: minio-ca
  mountPath: /etc/lumenslate/minio-ca
  readOnly: true
{{- end }}
{{- end }}
